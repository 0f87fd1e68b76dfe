"""What partner pushes need of storage and of HTTP, declared by the feature (the listmonk shape).

`syndicate.storage.partner_push_store`, `partner_store` and `partner_read` implement the storage
side on SQL; `syndicate.partners.transport.PartnerClient` is the HTTP side. Only the values below
cross these ports: never a session, a row or a dict.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol, TypeVar

from syndicate.domain.articles import Article
from syndicate.domain.events import ArticleEvent
from syndicate.errors import InvalidPartner

T = TypeVar("T")

# The reason stored when an admin disabled a partner; any other reason is an alert.
ADMIN_REASON = "disabled by an admin"


class DeliveryStatus(StrEnum):
    """Where a delivery stands; the values are stored in `partner_deliveries.status`."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"

    @classmethod
    def parse(cls, text: str) -> DeliveryStatus:
        """The status named `text`; InvalidPartner naming the field `status` otherwise."""
        try:
            return cls(text)
        except ValueError:
            raise InvalidPartner(
                "status", f"{text!r} is not one of {', '.join(cls)}"
            ) from None


class AttemptOutcome(StrEnum):
    """What one run of a push did: the first three made an HTTP attempt, the rest explain why not."""

    DELIVERED = "delivered"
    FAILED = "failed"  # a retry is scheduled
    DEAD = "dead"
    GONE = "gone"  # no such pending delivery
    NOT_DUE = "not-due"
    WAITING = "waiting"  # an older delivery of the same article to the partner is pending
    PAUSED = "paused"  # the partner is disabled
    THROTTLED = "throttled"  # the partner's rate limit; postponed without counting an attempt
    BUSY = "busy"  # another worker holds the lease

    @property
    def attempted(self) -> bool:
        """True when an HTTP attempt was made and recorded."""
        return self in (AttemptOutcome.DELIVERED, AttemptOutcome.FAILED, AttemptOutcome.DEAD)


# --- partners ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PartnerInput:
    """Partner fields as given by an admin; None means "leave unchanged" on edit."""

    name: str | None = None
    url: str | None = None
    categories: Sequence[str] | None = None
    language: str | None = None
    rate_limit_per_minute: int | None = None
    embargoed: bool | None = None  # receive `article.embargoed` ahead of scheduled releases


@dataclass(frozen=True)
class Partner:
    """A partner as an admin may see it: never its secrets."""

    id: int
    name: str
    url: str
    categories: tuple[str, ...]
    language: str | None
    rate_limit_per_minute: int | None
    active: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_until: datetime | None
    created_at: datetime
    updated_at: datetime
    embargoed: bool = False


@dataclass(frozen=True)
class SigningKeys:
    """A partner's secret, and the previous one that keeps signing until `previous_until`."""

    secret: str
    previous_secret: str | None = None
    previous_until: datetime | None = None


class PartnerStore(Protocol):
    """The partners table as the registry changes it; NotFound names a missing partner."""

    def add(self, fields: PartnerInput, keys: SigningKeys, *, now: datetime) -> Partner:
        """Insert an active partner from validated fields (name and url given)."""

    def get(self, partner_id: int) -> Partner:
        """The partner; raises NotFound."""

    def edit(self, partner_id: int, fields: PartnerInput, *, now: datetime) -> Partner:
        """Set the fields that are not None ('' / 0 store None); raises NotFound."""

    def keys(self, partner_id: int) -> SigningKeys:
        """The partner's signing keys; raises NotFound."""

    def set_keys(self, partner_id: int, keys: SigningKeys, *, now: datetime) -> None:
        """Replace the partner's signing keys; raises NotFound."""

    def set_active(self, partner_id: int, active: bool, *, now: datetime) -> Partner:
        """Enable (clearing why it was disabled; its pending deliveries become due now) or disable
        with ADMIN_REASON; raises NotFound."""


# --- deliveries ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """A delivery leased for one attempt, with what the push needs; `attempts` counts this one."""

    delivery_id: int
    partner_id: int
    partner_name: str
    url: str
    webhook_id: str
    body: str
    attempts: int
    keys: SigningKeys
    failing_since: datetime | None


@dataclass(frozen=True)
class Throttled:
    """The partner already had `per_minute` attempts in the last minute: nothing was claimed."""

    partner_id: int
    per_minute: int


@dataclass(frozen=True)
class DeliveryState:
    """What a delivery that could not be claimed looks like now."""

    status: DeliveryStatus
    next_attempt_at: datetime | None
    locked_until: datetime | None
    partner_active: bool


@dataclass(frozen=True)
class BatchClaim:
    """What leasing a batch did (one transaction): the claims, the deliveries whose partner's rate
    limit is used up (nothing changed on them), and the state of those that could not be claimed."""

    claims: list[Claim]
    throttled: dict[int, Throttled]
    skipped: dict[int, DeliveryState | None]
    taken_over: int = 0  # claims whose previous lease had run out (a pusher that died)


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt to store: its log line, the delivery's new state, and what changes on the partner."""

    delivery_id: int
    partner_id: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    status: DeliveryStatus
    next_attempt_at: datetime | None = None  # only while PENDING
    partner_failing_since: datetime | None = None  # set when not None
    partner_recovered: bool = False  # clear `failing_since`
    disable_reason: str | None = None  # disable the partner if it is still active
    release_next: bool = False  # make the next pending delivery of the article to the partner due


@dataclass(frozen=True)
class Recorded:
    """What storing an attempt changed: the delivery released next, and whether it disabled the partner."""

    successor: int | None
    disabled: bool


class PushStore(Protocol):
    """The delivery ledger as fan-out, attempts and sweeps see it (one transaction per call)."""

    def due(self, *, now: datetime, limit: int) -> list[int]:
        """Pending deliveries whose time has come, unlocked, of active partners, oldest event
        first; a delivery waits while an older one of its article to its partner is pending."""

    def take_due(self, *, now: datetime, limit: int, enqueued_before: datetime) -> list[int]:
        """Like `due`, skipping those enqueued since `enqueued_before`; marks them enqueued at `now`."""

    def active_partners(self) -> list[Partner]:
        """Every active partner."""

    def partners_with_delivery_of(self, event_id: int) -> set[int]:
        """Partners that already have a delivery of this event."""

    def partners_told_about(self, article_id: int) -> set[int]:
        """Partners that were sent anything about this article."""

    def article(self, article_id: int) -> Article | None:
        """The article, published or not, or None."""

    def latest_event(self, article_id: int) -> ArticleEvent | None:
        """The newest outbox event of the article, or None."""

    def event_time(self, event_id: int) -> datetime | None:
        """When the outbox event was recorded, or None."""

    def add_deliveries(
        self, event: ArticleEvent, body: str, webhook_ids: Mapping[int, str], *, now: datetime,
        enqueued: bool,
    ) -> list[int]:
        """Write the event's body unless it exists (it never changes) and one pending delivery per
        partner id with its webhook id, due now; returns their ids in the mapping's order."""

    def supersede_embargoes(self, article_id: int) -> int:
        """Mark dead (`superseded by the release`) the article's `article.embargoed` deliveries
        still pending and not in flight; returns how many."""

    def requeue(
        self, partner_id: int, *, now: datetime, status: DeliveryStatus | None = None,
        article_id: int | None = None,
    ) -> list[int]:
        """Make the partner's deliveries (of this status / article) pending, unattempted and due
        now, keeping webhook ids and bodies; returns their ids, oldest event first."""

    def record(self, record: AttemptRecord) -> Recorded:
        """Store an attempt, release the lease, apply its changes (one transaction)."""

    def claim_batch(self, delivery_ids: Sequence[int], *, now: datetime, lease_until: datetime) -> BatchClaim:
        """Lease every due, first-in-line delivery of active partners among `delivery_ids` and
        count their attempts, in one transaction, oldest event first; a partner whose rate limit
        (attempts in the last minute plus those claimed here) is used up gets no more claims."""

    def record_batch(self, records: Sequence[AttemptRecord]) -> list[Recorded]:
        """Store several attempts as `record` does, in order, in one transaction."""

    def renew(self, leases: Mapping[int, int], *, lease_until: datetime) -> None:
        """Extend the lease of deliveries (id -> attempts counted by our claim) still pending and
        still ours: a delivery another worker took over has a higher attempt count."""

    def postpone_many(self, moves: Mapping[int, datetime]) -> None:
        """Move the next attempt of each delivery without counting one (one transaction)."""

    def forget_enqueued_many(self, delivery_ids: Sequence[int]) -> None:
        """`forget_enqueued` for each delivery (one transaction)."""


# --- HTTP ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PushResponse:
    """What a partner answered: status, Retry-After, and the start of the body for the log."""

    status_code: int
    retry_after: str | None
    body_start: str
    elapsed_s: float


@dataclass(frozen=True)
class PushFailed:
    """No answer: the URL was refused by the guard, the connection failed, or it timed out."""

    error: str


class PushClient(Protocol):
    """Sends signed POSTs, many at once on its own event loop; never raises for a partner's fault."""

    async def push(
        self, url: str, body: bytes, headers: Mapping[str, str],
        on_start: Callable[[], None] | None = None,
    ) -> PushResponse | PushFailed:
        """Check the URL with the guard and POST `body` (awaited on the client's loop); redirects
        are never followed. Waits for one of the process's slots, calls `on_start` once it has
        one, and returns within the client's timeout from then."""

    def submit(self, work: Callable[[], Coroutine[Any, Any, T]]) -> Future[T]:
        """Start `work()` on the client's loop from synchronous code; returns its future."""


# --- the read model (admin pages, admin API, CLI) ------------------------------------------------

@dataclass(frozen=True)
class PartnerOverview:
    """A partner and how many of its deliveries are in each status (every status present)."""

    partner: Partner
    deliveries: Mapping[DeliveryStatus, int]


@dataclass(frozen=True)
class AttemptEntry:
    """One HTTP attempt in the delivery log."""

    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class DeliveryEntry:
    """One delivery in the log, with its attempts oldest first."""

    id: int
    webhook_id: str
    event_id: int
    event_type: str
    article_id: int
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    log: tuple[AttemptEntry, ...] = field(default=())


@dataclass(frozen=True)
class DeliveryLog:
    """A partner with its counts and its newest deliveries."""

    overview: PartnerOverview
    entries: list[DeliveryEntry]


PartnerOrder = Literal["id", "name"]
