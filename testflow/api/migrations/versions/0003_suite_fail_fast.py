"""suites get fail_fast

Revision ID: 0003
Revises: 0002
Create Date: a stored suite can start no more flows after one did not pass
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # server_default: the suites stored before keep running every flow, as they did.
    with op.batch_alter_table("suites", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fail_fast", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("suites", schema=None) as batch_op:
        batch_op.drop_column("fail_fast")
