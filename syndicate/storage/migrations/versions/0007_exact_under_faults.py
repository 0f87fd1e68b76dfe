"""Exact under faults: attempt history, the broker epoch of queued batches, one reader per address.

- `delivery_attempts`: one row per tried send, never updated (a resend adds rows; history stays).
- `deliveries.enqueued_epoch`: which life of the broker a batch task was handed to, so batches
  handed to a broker that has since lost its queue (Redis restarted without persistence) are
  handed over again at once, however long a healthy queue may hold them.
- `subscribers.email_key`: the address folded to lower case, unique. Subscribers whose addresses
  differ only in case are merged first into the oldest one: its history is kept, the others'
  subscriptions and deliveries move to it unless it already has one for that list or edition.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from syndicate.storage.models import BigId, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _merge_case_duplicates() -> None:
    conn = op.get_bind()
    groups = conn.execute(sa.text(
        "SELECT lower(email) AS k, min(id) AS keep FROM subscribers GROUP BY lower(email) HAVING count(*) > 1"
    )).all()
    for key, keep in groups:
        others = [r[0] for r in conn.execute(sa.text(
            "SELECT id FROM subscribers WHERE lower(email) = :k AND id <> :keep ORDER BY id"),
            {"k": key, "keep": keep})]
        for other in others:
            params = {"keep": keep, "other": other}
            conn.execute(sa.text(
                "UPDATE subscriptions SET subscriber_id = :keep WHERE subscriber_id = :other"
                " AND list_id NOT IN (SELECT list_id FROM subscriptions WHERE subscriber_id = :keep)"),
                params)
            conn.execute(sa.text(
                "UPDATE deliveries SET subscriber_id = :keep WHERE subscriber_id = :other"
                " AND edition_id NOT IN (SELECT edition_id FROM deliveries WHERE subscriber_id = :keep)"),
                params)
            conn.execute(sa.text("DELETE FROM deliveries WHERE subscriber_id = :other"), params)
            conn.execute(sa.text("DELETE FROM subscriptions WHERE subscriber_id = :other"), params)
            conn.execute(sa.text("DELETE FROM subscribers WHERE id = :other"), params)


def upgrade() -> None:
    op.create_table(
        "delivery_attempts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", BigId, sa.ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("reply", sa.Text),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_delivery_attempts_delivery", "delivery_attempts", ["delivery_id", "id"])
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("enqueued_epoch", sa.String(40)))
    _merge_case_duplicates()
    # A plain ADD COLUMN and a unique index: never a table rebuild of `subscribers`, whose drop
    # would cascade to every subscription and delivery on SQLite.
    op.add_column("subscribers", sa.Column("email_key", sa.String(320)))
    op.execute("UPDATE subscribers SET email_key = lower(email)")
    op.create_index("uq_subscribers_email_key", "subscribers", ["email_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_subscribers_email_key", "subscribers")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("email_key")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("enqueued_epoch")
    op.drop_index("ix_delivery_attempts_delivery", "delivery_attempts")
    op.drop_table("delivery_attempts")
