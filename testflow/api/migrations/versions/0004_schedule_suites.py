"""schedules can run a suite

Revision ID: 0004
Revises: 0003
Create Date: a schedule names a flow or a suite (and keeps the suite's flows it repeats)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.alter_column("flow_id", existing_type=sa.String(length=40), nullable=True)
        batch_op.add_column(sa.Column("suite_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("suite_flows", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_schedules_suite_id"), ["suite_id"], unique=False)


def downgrade() -> None:
    # Suite schedules have no flow: they cannot be kept under the old schema.
    op.execute("DELETE FROM schedules WHERE flow_id IS NULL")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedules_suite_id"))
        batch_op.drop_column("suite_flows")
        batch_op.drop_column("suite_id")
        batch_op.alter_column("flow_id", existing_type=sa.String(length=40), nullable=False)
