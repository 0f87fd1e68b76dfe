"""Settled delivery counts on editions, so admin lists do not count every delivery row.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.add_column(sa.Column("settled_counts", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("counts_epoch", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("counts_epoch")
        batch.drop_column("settled_counts")
