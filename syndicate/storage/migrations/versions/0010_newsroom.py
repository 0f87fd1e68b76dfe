"""Scheduled release: an outbox event may wait until its `not_before` time.

An article whose `published_at` is in the future gets its `article.published` event with
`not_before` = `published_at`; the relay dispatches it only from then on, so the release survives
any restart (the time is in the database, never in a broker's delayed message).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from syndicate.storage.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("not_before", UTCDateTime(), nullable=True))
    op.create_index("ix_outbox_not_before", "outbox", ["not_before"])


def downgrade() -> None:
    op.drop_index("ix_outbox_not_before", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("not_before")
