"""What the sending engine (`fanout`) needs of storage, declared by the engine.

`syndicate.storage.delivery_store.SqlDeliveryStore` implements it on the ledger tables; the
engine's unit tests use a small fake. Like listmonk's manager and its `Store`, the engine never
sees a database session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from syndicate.domain.articles import Article


@dataclass(frozen=True)
class Claimed:
    """A delivery claimed for sending, with what the message needs of its subscriber."""

    delivery_id: int
    subscriber_id: int
    email: str
    name: str
    language: str
    attempts: int
    receiving: bool  # subscriber active and still subscribed to the edition's list


@dataclass(frozen=True)
class EditionContent:
    """What an edition's message is made of: its list and its articles, newest first."""

    edition_id: int
    list_id: int
    list_slug: str
    list_name: str
    frequency: str
    articles: list[Article]


class DeliveryStore(Protocol):
    """The delivery ledger as a batch sees it."""

    def edition_content(self, edition_id: int) -> EditionContent:
        """The edition's list and articles; raises NotFound for an unknown edition."""

    def claim(self, edition_id: int, list_id: int, lo: int, hi: int, *, now: datetime) -> list[Claimed]:
        """Move the due `queued` rows with ids in [lo, hi] to `sending` for this caller alone.

        Returns only the rows this call moved (committed before it returns), so two callers never
        get the same row and a `sent` row is never returned.
        """

    def record(self, outcomes: Sequence[dict[str, Any]], suppress: Sequence[int], *, now: datetime) -> None:
        """Write outcomes ({'id', 'state', 'last_reply', ...} per row) and suppress these subscribers."""

    def release(self, delivery_ids: Sequence[int], *, now: datetime) -> None:
        """Put claimed rows that were never tried back to `queued`."""
