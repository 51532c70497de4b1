"""suites get a description

Revision ID: 0002
Revises: 0001
Create Date: suites became editable in the web UI
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch_alter_table: SQLite alters tables by copying them; PostgreSQL alters in place.
    with op.batch_alter_table("suites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("suites", schema=None) as batch_op:
        batch_op.drop_column("description")
