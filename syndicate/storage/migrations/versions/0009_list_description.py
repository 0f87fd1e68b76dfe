"""Lists get a description (shown on /subscribe and the preferences page) and a visibility.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mailing_lists") as batch:
        batch.add_column(sa.Column("description", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("visibility", sa.String(10), nullable=False, server_default="public"))


def downgrade() -> None:
    with op.batch_alter_table("mailing_lists") as batch:
        batch.drop_column("visibility")
        batch.drop_column("description")
