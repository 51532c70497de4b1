"""The API's database: SQLAlchemy 2 async models, sessions and Alembic migrations."""

from testflow.api.db.models import (
    ApiToken,
    Base,
    EnvironmentRow,
    FlowRow,
    FlowVersion,
    RunRow,
    ScheduleRow,
    SuiteRow,
)
from testflow.api.db.session import Database

__all__ = [
    "ApiToken",
    "Base",
    "Database",
    "EnvironmentRow",
    "FlowRow",
    "FlowVersion",
    "RunRow",
    "ScheduleRow",
    "SuiteRow",
]
