"""Built-in step kinds, registered through the ``testflow.steps`` entry point.

Each module declares the input models and :class:`StepKind` objects of one protocol; this
list is what the entry point exposes. Executors live in :mod:`testflow.activities`.
"""

from __future__ import annotations

from testflow.dsl.kinds.amqp import AMQP_KINDS
from testflow.dsl.kinds.core import CORE_KINDS
from testflow.dsl.kinds.http import HTTP_KINDS
from testflow.dsl.kinds.kafka import KAFKA_KINDS
from testflow.dsl.kinds.mock import MOCK_KINDS
from testflow.dsl.kinds.mqtt import MQTT_KINDS
from testflow.dsl.kinds.nats import NATS_KINDS
from testflow.dsl.kinds.observability import OBSERVABILITY_KINDS
from testflow.dsl.kinds.redis import REDIS_KINDS
from testflow.dsl.kinds.s3 import S3_KINDS
from testflow.dsl.kinds.sql import SQL_KINDS
from testflow.dsl.kinds.webhook import WEBHOOK_KINDS
from testflow.dsl.registry import StepKind

BUILTIN_KINDS: list[StepKind] = [
    *CORE_KINDS,
    *HTTP_KINDS,
    *KAFKA_KINDS,
    *AMQP_KINDS,
    *MQTT_KINDS,
    *NATS_KINDS,
    *SQL_KINDS,
    *REDIS_KINDS,
    *S3_KINDS,
    *OBSERVABILITY_KINDS,
    *WEBHOOK_KINDS,
    *MOCK_KINDS,
]

__all__ = ["BUILTIN_KINDS"]
