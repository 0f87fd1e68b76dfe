"""Runtime stats for /metrics and /healthz, the send-rate index, and admin suppressions as such.

- `runtime_stats`: counters, gauges and heartbeats (lease takeovers, feed build time, the
  scheduler's last run), one row per name.
- `ix_deliveries_sent`: rows sent recently, without reading the whole ledger.
- Subscribers an admin suppressed were stored as `complained` with the reason "suppressed by an
  admin"; they become `suppressed`, which is what they are.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from syndicate.storage.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runtime_stats",
        sa.Column("name", sa.String(80), primary_key=True),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_deliveries_sent", "deliveries", ["sent_at"],
                    sqlite_where=sa.text("state = 'sent'"), postgresql_where=sa.text("state = 'sent'"))
    op.execute("UPDATE subscribers SET status = 'suppressed', status_reason = 'suppressed by admin' "
               "WHERE status = 'complained' AND status_reason = 'suppressed by an admin'")


def downgrade() -> None:
    op.execute("UPDATE subscribers SET status = 'complained', status_reason = 'suppressed by an admin' "
               "WHERE status = 'suppressed'")
    op.drop_index("ix_deliveries_sent", table_name="deliveries")
    op.drop_table("runtime_stats")
