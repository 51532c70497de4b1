"""Alembic environment: migrations run on a connection handed over by Database.migrate()."""

from __future__ import annotations

from alembic import context

from testflow.api.db.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "testflow migrations run through testflow.api.db.Database.migrate() "
        "(testflow serve does it at start)"
    )
context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
