"""PostgreSQL: the deliveries table leaves 30 % of each page free (fillfactor 70).

A delivery row is written four more times after its insert (enqueued, claimed, its entries,
its outcome). With free room on its page a new version stays there, and a change of columns no
index covers (the enqueue mark, the entries) is a HOT update that adds no index entries; on full
pages each version went to another page with an entry in every index. Measured on a 500-row
claim: 71-81 µs a row before, 63-66 after. Pages written before this migration keep no free
room until the table is rewritten (`VACUUM FULL deliveries`, which locks it); new editions' rows
get it at once. SQLite has no such setting: nothing changes there.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deliveries SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deliveries RESET (fillfactor)")
