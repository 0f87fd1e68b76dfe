"""Lists can be archived: no new editions and nobody joins, readers and history kept.

Plain ADD COLUMN (no batch rebuild of a parent table on SQLite: it would cascade deletes).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("mailing_lists", sa.Column("archived", sa.Boolean(), nullable=False,
                                             server_default=sa.text("false")))


def downgrade() -> None:
    op.drop_column("mailing_lists", "archived")  # plain DROP COLUMN, no batch rebuild
