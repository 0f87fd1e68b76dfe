"""Lists, subscribers, editions and email deliveries.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from syndicate.storage.models import BigId, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailing_lists",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("slug", sa.String(63), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("frequency", sa.String(10), nullable=False),
        sa.Column("language", sa.String(35)),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("custom_frequency", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "subscribers",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime()),
        sa.Column("status_reason", sa.Text),
    )
    op.create_table(
        "subscriptions",
        sa.Column("subscriber_id", BigId, sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("list_id", BigId, sa.ForeignKey("mailing_lists.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("frequency", sa.String(10)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_subscriptions_list", "subscriptions", ["list_id", "status", "subscriber_id"])
    op.create_table(
        "editions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("list_id", BigId, sa.ForeignKey("mailing_lists.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("frequency", sa.String(10), nullable=False),
        sa.Column("dedupe_key", sa.String(80)),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.Column("article_ids", sa.JSON, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("list_id", "dedupe_key", name="uq_editions_list_dedupe"),
    )
    op.create_index("ix_editions_list_frequency", "editions", ["list_id", "frequency", "id"])
    op.create_table(
        "deliveries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("edition_id", BigId, sa.ForeignKey("editions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("subscriber_id", BigId, sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_reply", sa.Text),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("enqueued_at", UTCDateTime()),
        sa.Column("claim", sa.String(32)),
        sa.Column("claimed_at", UTCDateTime()),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("edition_id", "subscriber_id", name="uq_deliveries_edition_subscriber"),
    )
    op.create_index("ix_deliveries_edition_state", "deliveries", ["edition_id", "state", "id"])
    # A subscriber's delivery history (admin pages and API), newest first.
    op.create_index("ix_deliveries_subscriber", "deliveries", ["subscriber_id", "id"])
    # Partial indexes: only rows the sweep looks for are indexed, so a row moving to `sent`
    # costs no index entry here (fan-out writes every row twice).
    queued, sending = sa.text("state = 'queued'"), sa.text("state = 'sending'")
    op.create_index("ix_deliveries_due", "deliveries", ["next_attempt_at"],
                    sqlite_where=queued, postgresql_where=queued)
    op.create_index("ix_deliveries_sending", "deliveries", ["claimed_at"],
                    sqlite_where=sending, postgresql_where=sending)
    # The admin overview counts recent failures on every view: only failed rows are indexed.
    failures = sa.text("state IN ('failed', 'bounced')")
    op.create_index("ix_deliveries_failures", "deliveries", ["updated_at"],
                    sqlite_where=failures, postgresql_where=failures)


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("editions")
    op.drop_table("subscriptions")
    op.drop_table("subscribers")
    op.drop_table("mailing_lists")
