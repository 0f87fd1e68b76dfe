"""Stories: translations found by guid, one copy of a story per reader across lists.

`articles.translation_of` gets an index; lists get `repeat_stories`; editions store their
stories; each delivery stores the articles decided for it at its first claim; `mailed_stories`
holds the (reader, story) pairs already given, one row each.

Plain ADD COLUMN (no batch rebuild of parent tables on SQLite: it would cascade deletes).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from syndicate.storage.models import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_index("ix_articles_translation_of", "articles", ["translation_of"])
    op.add_column("mailing_lists", sa.Column("repeat_stories", sa.Boolean(), nullable=False,
                                             server_default=sa.text("false")))
    op.add_column("editions", sa.Column("stories", sa.JSON(none_as_null=True), nullable=True))
    op.add_column("deliveries", sa.Column("article_ids", sa.JSON(none_as_null=True), nullable=True))
    op.create_table(
        "mailed_stories",
        sa.Column("subscriber_id", BigId, sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("story", sa.String(500), nullable=False),
        sa.Column("delivery_id", BigId, sa.ForeignKey("deliveries.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("list_id", BigId, nullable=False),
        sa.Column("article_id", BigId, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("subscriber_id", "story"),
    )
    op.create_index("ix_mailed_stories_delivery", "mailed_stories", ["delivery_id"])


def downgrade() -> None:
    op.drop_index("ix_mailed_stories_delivery", table_name="mailed_stories")
    op.drop_table("mailed_stories")
    # Plain ALTER TABLE DROP COLUMN (SQLite 3.35+): a batch rebuild of these parent tables would
    # cascade-delete their children.
    op.drop_column("deliveries", "article_ids")
    op.drop_column("editions", "stories")
    op.drop_column("mailing_lists", "repeat_stories")
    op.drop_index("ix_articles_translation_of", table_name="articles")
