"""The ledger's two child tables lose their foreign keys; deletes still cascade, through triggers.

`delivery_attempts.delivery_id`, `mailed_stories.delivery_id` and `mailed_stories.subscriber_id`
were foreign keys with ON DELETE CASCADE. Every row the sending path inserts into them (one
attempt per message, one pair per reader and story) then ran a check per row on PostgreSQL: a
lookup of the parent row that also locks it (`FOR KEY SHARE`, a write to the subscriber's
row for each pair). Measured with `bench/fanout.py -n 20000 --concurrency 1`, the checks were
15 % of PostgreSQL's CPU per message (165-179 µs without them, 195-211 with).

Only the ledger inserts these rows, each in the statement or transaction that holds the parent
row (the outcome's UPDATE … RETURNING, the claim), so the check never had anything to refuse.
What the keys also did, deleting the children with their delivery or subscriber, is kept by
triggers that fire only on a delete: on PostgreSQL one per statement (over its deleted rows),
on SQLite one per row. syndicate itself deletes neither deliveries nor subscribers (an erasure
keeps the row under a placeholder address); the triggers keep a manual DELETE tidy.

SQLite rebuilds the two child tables (nothing references them, so no delete cascades).

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

from syndicate.storage.models import BigId, UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_PG_UP = [
    "ALTER TABLE delivery_attempts DROP CONSTRAINT delivery_attempts_delivery_id_fkey",
    "ALTER TABLE mailed_stories DROP CONSTRAINT mailed_stories_delivery_id_fkey",
    "ALTER TABLE mailed_stories DROP CONSTRAINT mailed_stories_subscriber_id_fkey",
    """CREATE FUNCTION syndicate_deliveries_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM gone);
    DELETE FROM mailed_stories WHERE delivery_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$""",
    """CREATE TRIGGER deliveries_delete_children AFTER DELETE ON deliveries
REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION syndicate_deliveries_deleted()""",
    """CREATE FUNCTION syndicate_subscribers_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM mailed_stories WHERE subscriber_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$""",
    """CREATE TRIGGER subscribers_delete_stories AFTER DELETE ON subscribers
REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION syndicate_subscribers_deleted()""",
]

_PG_DOWN = [
    "DROP TRIGGER subscribers_delete_stories ON subscribers",
    "DROP FUNCTION syndicate_subscribers_deleted()",
    "DROP TRIGGER deliveries_delete_children ON deliveries",
    "DROP FUNCTION syndicate_deliveries_deleted()",
    """ALTER TABLE delivery_attempts ADD CONSTRAINT delivery_attempts_delivery_id_fkey
FOREIGN KEY (delivery_id) REFERENCES deliveries (id) ON DELETE CASCADE""",
    """ALTER TABLE mailed_stories ADD CONSTRAINT mailed_stories_delivery_id_fkey
FOREIGN KEY (delivery_id) REFERENCES deliveries (id) ON DELETE CASCADE""",
    """ALTER TABLE mailed_stories ADD CONSTRAINT mailed_stories_subscriber_id_fkey
FOREIGN KEY (subscriber_id) REFERENCES subscribers (id) ON DELETE CASCADE""",
]

_SQLITE_TRIGGERS = [
    """CREATE TRIGGER deliveries_delete_children AFTER DELETE ON deliveries FOR EACH ROW BEGIN
    DELETE FROM delivery_attempts WHERE delivery_id = OLD.id;
    DELETE FROM mailed_stories WHERE delivery_id = OLD.id;
END""",
    """CREATE TRIGGER subscribers_delete_stories AFTER DELETE ON subscribers FOR EACH ROW BEGIN
    DELETE FROM mailed_stories WHERE subscriber_id = OLD.id;
END""",
]


def _children(*, keys: bool) -> list[sa.Table]:
    """The two child tables as they are after (keys=False) or before (keys=True) this revision."""
    meta = sa.MetaData()
    if keys:  # only for the batch copy's reflection of the parents' names
        sa.Table("deliveries", meta, sa.Column("id", BigId, primary_key=True))
        sa.Table("subscribers", meta, sa.Column("id", BigId, primary_key=True))

    def parent(target: str) -> list[sa.ForeignKey]:
        return [sa.ForeignKey(target, ondelete="CASCADE")] if keys else []

    attempts = sa.Table(
        "delivery_attempts", meta,
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", BigId, *parent("deliveries.id"), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("reply", sa.Text),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Index("ix_delivery_attempts_delivery", "delivery_id", "id"),
    )
    stories = sa.Table(
        "mailed_stories", meta,
        sa.Column("subscriber_id", BigId, *parent("subscribers.id"), nullable=False),
        sa.Column("story", sa.String(500), nullable=False),
        sa.Column("delivery_id", BigId, *parent("deliveries.id"), nullable=False),
        sa.Column("list_id", BigId, nullable=False),
        sa.Column("article_id", BigId, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("subscriber_id", "story"),
        sa.Index("ix_mailed_stories_delivery", "delivery_id"),
    )
    return [attempts, stories]


def _rebuild_sqlite(*, keys: bool) -> None:
    """Rebuild the child tables on SQLite in the shape `_children(keys=keys)`."""
    for table in _children(keys=keys):
        with op.batch_alter_table(table.name, recreate="always", copy_from=table):
            pass


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _PG_UP:
            op.execute(statement)
        return
    _rebuild_sqlite(keys=False)
    for statement in _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _PG_DOWN:
            op.execute(statement)
        return
    op.execute("DROP TRIGGER subscribers_delete_stories")
    op.execute("DROP TRIGGER deliveries_delete_children")
    _rebuild_sqlite(keys=True)
