"""Partners may opt in to embargoed pushes: `article.embargoed` ahead of a scheduled release.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no table rebuild on SQLite): existing partners are not opted in.
    op.add_column("partners", sa.Column("embargoed", sa.Boolean(), nullable=False,
                                        server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("partners", "embargoed")
