"""The sending engine's `DeliveryStore` on the ledger tables (one short transaction per call)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from syndicate.digests import ledger
from syndicate.digests.editions import edition_and_list, edition_articles
from syndicate.digests.ports import Claimed, EditionContent


class SqlDeliveryStore:
    """DeliveryStore over SQLAlchemy sessions from `session_factory`."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def edition_content(self, edition_id: int) -> EditionContent:
        """The edition's list and articles; raises NotFound for an unknown edition."""
        with self.session_factory() as session:
            row, lst = edition_and_list(session, edition_id)
            return EditionContent(edition_id, lst.id, lst.slug, lst.name, row.frequency,
                                  edition_articles(session, row))

    def claim(self, edition_id: int, list_id: int, lo: int, hi: int, *, now: datetime) -> list[Claimed]:
        """See DeliveryStore.claim (one conditional UPDATE, committed)."""
        with self.session_factory() as session:
            return ledger.claim(session, edition_id, list_id, lo, hi, now=now)

    def record(self, outcomes: Sequence[dict[str, Any]], suppress: Sequence[int], *, now: datetime) -> None:
        """See DeliveryStore.record (committed)."""
        with self.session_factory() as session:
            ledger.record(session, outcomes, suppress, now=now)

    def release(self, delivery_ids: Sequence[int], *, now: datetime) -> None:
        """See DeliveryStore.release (committed)."""
        with self.session_factory() as session:
            ledger.release(session, delivery_ids, now=now)
