"""Built feed documents in the database, so serve nodes on any host answer feeds without a shared disk.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from syndicate.storage.models import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_documents",
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("gzip_body", sa.LargeBinary(), nullable=True),
        sa.Column("etag", sa.String(80), nullable=False),
        sa.Column("gzip_etag", sa.String(80), nullable=False),
        sa.Column("last_modified", UTCDateTime(), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("path"),
    )


def downgrade() -> None:
    op.drop_table("feed_documents")
