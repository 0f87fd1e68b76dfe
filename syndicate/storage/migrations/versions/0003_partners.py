"""Partners and webhook deliveries.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from syndicate.storage.models import BigId, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("previous_secret", sa.String(100)),
        sa.Column("previous_secret_until", UTCDateTime()),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("language", sa.String(35)),
        sa.Column("rate_limit_per_minute", sa.Integer),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("disabled_at", UTCDateTime()),
        sa.Column("disabled_reason", sa.Text),
        sa.Column("failing_since", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "partner_payloads",
        sa.Column("event_id", BigId, primary_key=True, autoincrement=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "partner_deliveries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "partner_id", BigId, sa.ForeignKey("partners.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("article_id", BigId, nullable=False),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("webhook_id", sa.String(64), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime()),
        sa.Column("locked_until", UTCDateTime()),
        sa.Column("enqueued_at", UTCDateTime()),
        sa.Column("last_attempt_at", UTCDateTime()),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime()),
        sa.UniqueConstraint("event_id", "partner_id", name="uq_partner_deliveries_event_partner"),
    )
    op.create_index(
        "ix_partner_deliveries_due", "partner_deliveries", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_partner_deliveries_order", "partner_deliveries", ["partner_id", "article_id", "event_id"]
    )
    op.create_index(
        "ix_partner_deliveries_partner_status", "partner_deliveries", ["partner_id", "status", "id"]
    )
    op.create_table(
        "partner_attempts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "delivery_id",
            BigId,
            sa.ForeignKey("partner_deliveries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("partner_id", BigId, nullable=False),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Integer, nullable=False),
    )
    op.create_index("ix_partner_attempts_delivery", "partner_attempts", ["delivery_id", "id"])
    op.create_index(
        "ix_partner_attempts_partner_time", "partner_attempts", ["partner_id", "attempted_at"]
    )


def downgrade() -> None:
    op.drop_table("partner_attempts")
    op.drop_table("partner_deliveries")
    op.drop_table("partner_payloads")
    op.drop_table("partners")
