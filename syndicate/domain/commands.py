"""Commands: imperative requests for work that a worker carries out later.

Feature code hands a command to the `TaskQueue` port (services/ports.py); only the task-queue
adapter (broker/taskqueue.py) knows which Celery task runs it. Every command is idempotent on the
worker side: a command may be delivered more than once, and the database decides what is left to do.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HandleEvent:
    """Run every handler of one outbox event."""

    event_id: int


@dataclass(frozen=True)
class RelayOutbox:
    """Hand pending outbox events to the broker (beat)."""


@dataclass(frozen=True)
class SendBatch:
    """Send the due deliveries of an edition whose ids lie in [lo, hi]."""

    edition_id: int
    lo: int
    hi: int


@dataclass(frozen=True)
class SweepDeliveries:
    """Re-enqueue due digest deliveries and rows of dead workers (beat)."""


@dataclass(frozen=True)
class BuildDueEditions:
    """Build the daily and weekly editions that are due (beat)."""


@dataclass(frozen=True)
class PushDelivery:
    """Attempt one partner delivery if it is due (submitted before batches; kept for queued ones)."""

    delivery_id: int


@dataclass(frozen=True)
class PushDeliveries:
    """Attempt a batch of partner deliveries together, each if it is due."""

    delivery_ids: tuple[int, ...]


@dataclass(frozen=True)
class SweepPartners:
    """Enqueue partner deliveries whose retry time has come (beat)."""


@dataclass(frozen=True)
class RebuildFeeds:
    """Rebuild every feed an article appears in."""

    article_id: int


@dataclass(frozen=True)
class PingHub:
    """Tell one WebSub hub that one feed URL changed."""

    hub: str
    feed_url: str


Command = (
    HandleEvent | RelayOutbox | SendBatch | SweepDeliveries | BuildDueEditions | PushDelivery
    | PushDeliveries | SweepPartners | RebuildFeeds | PingHub
)
