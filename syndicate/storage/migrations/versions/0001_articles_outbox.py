"""Articles, their categories, and the event outbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from syndicate.storage.models import BigId, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("guid", sa.String(500), nullable=False, unique=True),
        sa.Column("slug", sa.String(120), nullable=False, unique=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("images", sa.JSON, nullable=False),
        sa.Column("translation_of", sa.String(500)),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("unpublished_at", UTCDateTime()),
    )
    op.create_index("ix_articles_published", "articles", ["published_at", "id"])
    op.create_index("ix_articles_language_published", "articles", ["language", "published_at"])
    op.create_table(
        "article_categories",
        sa.Column(
            "article_id",
            BigId,
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("category", sa.String(63), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_article_categories_category", "article_categories", ["category", "article_id"]
    )
    op.create_table(
        "outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("article_id", BigId, nullable=False),
        sa.Column("guid", sa.String(500), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("dispatched_at", UTCDateTime()),
        sa.Column("handled_at", UTCDateTime()),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_outbox_pending", "outbox", ["handled_at", "id"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("article_categories")
    op.drop_table("articles")
