"""Feed build state: RFC 5005 archive page boundaries, feed memberships of articles.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from syndicate.storage.models import BigId, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_archive_pages",
        sa.Column("feed_key", sa.String(100), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("first_published_at", UTCDateTime(), nullable=False),
        sa.Column("first_id", BigId, nullable=False),
        sa.Column("last_published_at", UTCDateTime(), nullable=False),
        sa.Column("last_id", BigId, nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("feed_key", "page"),
    )
    op.create_index(
        "ix_feed_archive_pages_last", "feed_archive_pages", ["feed_key", "last_published_at", "last_id"]
    )
    op.create_table(
        "feed_memberships",
        sa.Column("article_id", BigId, nullable=False),
        sa.Column("feed_key", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("article_id", "feed_key"),
    )


def downgrade() -> None:
    op.drop_table("feed_memberships")
    op.drop_table("feed_archive_pages")
