"""The small interfaces the services need; storage and worker adapters implement them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from syndicate.domain.articles import Article, ArticleDraft
from syndicate.domain.commands import Command
from syndicate.domain.events import ArticleEvent


class ArticleStore(Protocol):
    """Articles as the publishing service sees them."""

    def find_by_guid(self, guid: str) -> tuple[Article, str] | None:
        """The article with this guid and its content hash, or None."""

    def find_by_slug_guid(self, authority: str, slug: str) -> tuple[Article, str] | None:
        """The article whose guid was made from this slug (a tag URI of `authority`, any year,
        or the legacy `syndicate:article:` form) and its content hash, or None."""

    def get(self, article_id: int) -> Article | None:
        """The article with this id, published or not, or None."""

    def slug_taken(self, slug: str) -> bool:
        """True when some article already has this slug."""

    def add(self, draft: ArticleDraft, *, guid: str, slug: str, now: datetime) -> Article:
        """Insert a new article."""

    def replace(self, article_id: int, draft: ArticleDraft, *, updated_at: datetime) -> Article:
        """Overwrite an article's content in place (republishing it); guid and slug stay."""

    def set_unpublished(self, article_id: int, when: datetime | None) -> Article | None:
        """Mark an article unpublished at `when` (None: published); None if it does not exist."""


class ArticleReader(Protocol):
    """Read-only article queries for pages, the API, the CLI and the features' handlers."""

    def by_slug(self, slug: str, *, include_unpublished: bool = False) -> Article | None:
        """The published (or, if asked, also unpublished) article with this slug, or None."""

    def by_id(self, article_id: int) -> Article | None:
        """The article with this id, published or not, or None."""

    def newest(self, *, limit: int, offset: int = 0, include_unpublished: bool = False) -> Sequence[Article]:
        """Articles newest first (publication time, then id); unpublished ones only if asked."""

    def count(self, *, include_unpublished: bool = False) -> int:
        """How many published (or, with include_unpublished, stored) articles there are."""


class EventStore(Protocol):
    """The outbox: events written in the same transaction as the change they describe."""

    def add(self, event_type: str, article: Article, *, now: datetime,
            not_before: datetime | None = None) -> int:
        """Record an event, to be handed over from `not_before` on (None: at once); returns its id."""

    def get(self, event_id: int) -> ArticleEvent | None:
        """One event, or None."""

    def is_handled(self, event_id: int) -> bool:
        """True once every handler has run for this event."""

    def due_for_dispatch(self, *, now: datetime, redeliver_after_s: float, limit: int) -> Sequence[int]:
        """Unhandled events never dispatched, or dispatched long enough ago to be lost."""

    def is_due(self, event_id: int, *, now: datetime) -> bool:
        """True when the event has no release time or its time has come."""

    def reschedule(self, article_id: int, event_type: str, not_before: datetime | None) -> int:
        """Move the release time of the article's events of this type not yet handed over."""

    def pending_id(self, article_id: int, event_type: str) -> int | None:
        """The newest event of this type for the article not yet handed over, or None."""

    def cancel_pending(self, article_id: int, event_type: str, *, now: datetime) -> int:
        """Mark handled (never to be sent) the article's events of this type still waiting for
        a future release time; returns how many."""

    def mark_dispatched(self, event_id: int, *, now: datetime) -> None:
        """Record that the broker accepted the event."""

    def mark_handled(self, event_id: int, *, now: datetime) -> None:
        """Record that every handler ran."""

    def record_failure(self, event_id: int, error: str) -> int:
        """Count a failed handling attempt; returns the attempts so far."""


class Transaction(Protocol):
    """`with` one transaction: leaving without commit() rolls back. Each feature's unit of work
    is one of these with the stores it needs on it."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None:
        """Make the work durable."""


class UnitOfWork(Transaction, Protocol):
    """One transaction over the article stores; leaving without commit() rolls back."""

    @property
    def articles(self) -> ArticleStore:
        """The article store inside this transaction."""

    @property
    def events(self) -> EventStore:
        """The outbox inside this transaction."""


class TaskQueue(Protocol):
    """Hands commands to workers; the one way feature code asks for work to be done later."""

    def submit(self, command: Command) -> bool:
        """Enqueue the command; False when the broker refused it (logged, never raised).

        A refused command is not lost: the state it acts on is in the database, and a beat sweep
        submits it again. Callers record "enqueued" only after True.
        """

    def ping(self) -> None:
        """Open and close a broker connection; raises BrokerUnavailable when that fails."""

    def epoch(self) -> str:
        """The broker's current life: it changes when the broker lost its queued messages.

        Work recorded as enqueued under an older epoch was lost and must be submitted again.
        Raises BrokerUnavailable when the broker cannot be asked.
        """


class Telemetry(Protocol):
    """What operators see in /metrics and /healthz, recorded by whichever process did the work.

    Recording never raises: a number that could not be stored must not fail the work it counts.
    """

    def count(self, name: str, n: int = 1) -> None:
        """Add `n` to the counter `name` (e.g. "lease_takeovers")."""

    def gauge(self, name: str, value: float) -> None:
        """Set the gauge `name` to `value` (e.g. "feed_build_seconds")."""

    def seen(self, component: str) -> None:
        """Record that `component` (e.g. "scheduler") ran just now."""
