"""Fixtures of the activity tests; each protocol area keeps its own in a separate module."""

from tests.activities.conftest_messaging import *  # noqa: F403
from tests.activities.conftest_services_sql import *  # noqa: F403
