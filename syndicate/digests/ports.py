"""What the digest use cases need of storage, declared by them (listmonk's `Store`, consumer-owned).

`syndicate.storage` implements these on the SQL tables (`delivery_store`, `edition_store`,
`subscriber_store`); the unit tests use the in-memory fakes of `tests/unit/fakes/digests.py`.
Only the frozen values below cross a port: never a session, never a table row, never a dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol, Self

from syndicate.digests.states import (
    DeliveryState,
    Frequency,
    SubscriberStatus,
    SubscriptionStatus,
)
from syndicate.domain.articles import Article
from syndicate.domain.stories import Story
from syndicate.errors import DatabaseUnavailable
from syndicate.services.ports import Transaction

#: Who may join a list: anyone from the public pages, or only through an admin.
Visibility = Literal["public", "private"]
VISIBILITIES: tuple[Visibility, ...] = ("public", "private")


@dataclass(frozen=True)
class MailingList:
    """A list (newsletter): which articles it carries and how often."""

    id: int
    slug: str
    name: str
    frequency: Frequency
    language: str | None
    categories: tuple[str, ...]
    custom_frequency: bool
    description: str = ""
    visibility: Visibility = "public"
    #: Mail a story again to readers who had it through another list (a weekly round-up).
    repeat_stories: bool = False
    #: Retired: no new editions, nobody joins; its readers and its history stay.
    archived: bool = False

    @property
    def is_public(self) -> bool:
        """True when readers may join from the public pages (public and not archived)."""
        return self.visibility == "public" and not self.archived


@dataclass(frozen=True)
class Subscriber:
    """One address and whether it may be mailed."""

    id: int
    email: str
    name: str
    language: str
    status: SubscriberStatus
    status_reason: str | None = None
    confirmed_at: datetime | None = None


@dataclass(frozen=True)
class Subscription:
    """A subscriber's membership of one list; frequency None means the list's own."""

    subscriber_id: int
    list_id: int
    status: SubscriptionStatus
    frequency: Frequency | None = None


@dataclass(frozen=True)
class NewEdition:
    """An edition to store, with one queued delivery per recipient of its frequency."""

    list_id: int
    frequency: Frequency
    dedupe_key: str | None
    since: datetime
    until: datetime
    article_ids: tuple[int, ...]
    subject: str
    #: One per story, in article_ids order (whose ids are the stories' default versions).
    stories: tuple[Story, ...] = ()


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery claimed for sending (now `sending`), with what its message needs of the subscriber."""

    delivery_id: int
    subscriber_id: int
    email: str
    name: str
    language: str
    attempts: int
    receiving: bool  # subscriber active and still subscribed to the edition's list
    #: The articles of this reader's message, decided at the first claim and kept for every
    #: retry and resend (empty: every story was already mailed); None: the edition's own.
    article_ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Outcome:
    """What one send attempt did to its delivery row.

    `retry_at` is set only for `queued` (a temporary failure): the row is tried again from then on.
    """

    delivery_id: int
    state: DeliveryState
    last_reply: str
    retry_at: datetime | None = None


@dataclass(frozen=True)
class EditionContent:
    """What an edition's message is made of: its list and its articles, newest first."""

    edition_id: int
    list_id: int
    list_slug: str
    list_name: str
    frequency: str
    articles: list[Article]
    #: Every version the edition's stories offer, by id (what a reader's entries may name).
    versions: dict[int, Article] = field(default_factory=dict)

    def articles_of(self, article_ids: Sequence[int] | None) -> list[Article]:
        """The articles of one reader's message: these ids in order, or the edition's (None)."""
        if article_ids is None:
            return self.articles
        known = {**{a.id: a for a in self.articles}, **self.versions}
        return [known[i] for i in article_ids if i in known]


@dataclass(frozen=True)
class ReportTarget:
    """The delivery a bounce or complaint report names, and the address it went to."""

    edition_id: int
    delivery_id: int
    subscriber_id: int
    email: str


#: An outcome to record and the subscriber its bounce suppresses (None: nobody).
Recording = tuple[Outcome, int | None]


class OutcomeWriter(Protocol):
    """Records the outcomes of one sender (one SMTP connection), one durable write each.

    `with store.writer() as writer:` around a sender's loop; the writer may hold a database
    connection from its first write until it is closed.
    """

    def record_all(self, items: Sequence[Recording], *, now: datetime) -> list[Recording]:
        """Write these outcomes (each with the subscriber its bounce suppresses) before
        returning, as `DeliveryStore.record`, in one transaction or a few; returns the items that
        were not written because the database is away (empty when all were written), so a retry
        never writes one twice. Other errors are raised."""

    def stream(self) -> OutcomeStream | None:
        """This writer's outcomes written without waiting, for a selector loop (see
        OutcomeStream); None when the store writes only while the caller waits."""

    def close(self) -> None:
        """Release what the writer holds (and its stream's connection)."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


class OutcomeStream(Protocol):
    """Writes one group of outcomes at a time without blocking the caller, who waits for
    `fileno()` to be readable (a selector) and then asks `done()`.

    A group is written as `OutcomeWriter.record_all` writes it (one transaction); only its
    completion is awaited differently. While a group is under way no other one may be sent.
    """

    def send(self, items: Sequence[Recording], *, now: datetime) -> list[Recording]:
        """Start writing these outcomes; returns them all, unsent, when the database is away
        (the caller then writes them with `record_all`), else an empty list."""

    def fileno(self) -> int:
        """The connection's socket, readable once the server answered (valid while a group is
        under way)."""

    def done(self) -> list[Recording] | None:
        """None while the group is under way; once it is over, the items that were not written
        because the connection was lost (empty when all were). Other errors are raised."""


class StoreOutcomeWriter:
    """An OutcomeWriter that calls `DeliveryStore.record` per outcome (embedded SQLite, fakes)."""

    def __init__(self, store: DeliveryStore) -> None:
        self.store = store

    def record_all(self, items: Sequence[Recording], *, now: datetime) -> list[Recording]:
        """See OutcomeWriter.record_all: one `DeliveryStore.record` transaction."""
        try:
            self.store.record([o for o, _ in items], [s for _, s in items if s is not None], now=now)
        except DatabaseUnavailable:
            return list(items)
        return []

    def stream(self) -> None:
        """See OutcomeWriter.stream: this writer has none (each write is waited for)."""
        return None

    def close(self) -> None:
        """Nothing is held."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DeliveryStore(Protocol):
    """The delivery ledger, as the sending engine and the dispatch use cases see it.

    Every method is one transaction of its own, committed before it returns.
    """

    def edition_content(self, edition_id: int) -> EditionContent:
        """The edition's list and articles; raises NotFound for an unknown edition."""

    def claim(
        self, edition_id: int, list_id: int, lo: int, hi: int, *, now: datetime
    ) -> list[ClaimedDelivery]:
        """Move the due `queued` rows with ids in [lo, hi] to `sending` for this caller alone.

        Returns only the rows this call moved, so two callers never get the same row and a
        `sent` row is never returned.
        """

    def record(self, outcomes: Sequence[Outcome], suppress: Sequence[int], *, now: datetime) -> None:
        """Write each row's outcome, add it to the row's attempt history (unless skipped), and mark
        these subscribers `bounced` (if active or pending). One transaction; raises
        DatabaseUnavailable when the database cannot be reached (nothing written then)."""

    def writer(self) -> OutcomeWriter:
        """A writer for one sender's outcomes, one per connection (see OutcomeWriter)."""

    def heartbeat(self, delivery_ids: Sequence[int], *, now: datetime) -> int:
        """Renew the lease of these rows while they are still `sending`; returns how many.

        Raises DatabaseUnavailable when the database cannot be reached.
        """

    def release(self, delivery_ids: Sequence[int], *, now: datetime) -> None:
        """Put claimed rows that were never tried back to `queued`."""

    def cut_batches(
        self, edition_id: int, *, size: int, now: datetime, stale_before: datetime, epoch: str | None,
        after: int, max_ranges: int,
    ) -> list[tuple[int, int]]:
        """Id ranges (ids > after) of due rows, at most `size` each, marked enqueued under `epoch`.

        Due: queued, past `next_attempt_at`, and never enqueued, or enqueued under another broker
        epoch (that broker lost its queue), or enqueued before `stale_before`. The caller submits
        one batch per range and calls `forget_enqueued` for a range the broker refused.
        """

    def fresh_batches(self, edition_id: int, *, size: int, epoch: str, at: datetime) -> list[tuple[int, int]]:
        """Id ranges, at most `size` rows each, of the edition's queued rows that were stored
        marked enqueued under `epoch` at exactly `at` (`EditionStore.add`); reads only.

        The caller submits one batch per range and calls `forget_enqueued` for a range the broker
        refused, as after `cut_batches`.
        """

    def forget_enqueued(self, edition_id: int, lo: int, hi: int) -> None:
        """Mark the queued rows of a range as never enqueued (their batch was refused)."""

    def release_stale(self, *, now: datetime, lease: timedelta) -> int:
        """Queue again rows in `sending` whose lease was not renewed for `lease` (their sender died).

        After a database restart nothing is taken over until the database has been up for one
        lease, so live senders, whose renewals failed while it was down, renew first.
        """

    def editions_with_due_rows(
        self, *, now: datetime, stale_before: datetime, epoch: str | None
    ) -> list[int]:
        """Editions that have rows due as `cut_batches` defines it."""

    def requeue(
        self, edition_id: int, *, states: Sequence[DeliveryState] | None, subscriber_id: int | None,
        now: datetime,
    ) -> int:
        """Queue rows of an edition again (by state, or one subscriber's); returns how many.

        Attempts restart at 0; rows being sent right now are left alone.
        """

    def counts(self, edition_id: int) -> dict[DeliveryState, int]:
        """Rows of the edition per state, every state present (0 when none)."""

    def has_pending(self, edition_id: int) -> bool:
        """True while a row of the edition is queued or sending (one index probe, not a count)."""


class EditionStore(Protocol):
    """Editions as the use cases that build them see them (one transaction per call)."""

    def exists(self, edition_id: int) -> bool:
        """True when the edition exists."""

    def find(self, list_id: int, dedupe_key: str) -> int | None:
        """The id of the list's edition with this dedupe key, or None."""

    def previous_until(self, list_id: int, frequency: Frequency) -> datetime | None:
        """Where the list's previous edition of this frequency stopped, or None."""

    def matching_articles(
        self, lst: MailingList, *, since: datetime, until: datetime,
        article_ids: Sequence[int] | None, limit: int,
    ) -> list[Article]:
        """Published articles in (since, until] (or among `article_ids`) passing the list's filters.

        Newest first, each once, at most `limit`.
        """

    def add(self, edition: NewEdition, lst: MailingList, *, now: datetime,
            epoch: str | None = None) -> int | None:
        """Store the edition with one queued delivery per active recipient of its frequency.

        Returns its id; None (nothing stored) when nobody receives it. When another caller
        stored an edition with the same dedupe key meanwhile, returns that one's id.
        With `epoch`, the deliveries are stored already marked enqueued under it at `now`, for a
        caller that submits their batches next (`DeliveryStore.fresh_batches`): each row is then
        written once fewer than when `cut_batches` marks it.
        """

    def article(self, article_id: int) -> Article | None:
        """The article with this id, published or not, or None."""

    def linked(self, articles: Sequence[Article]) -> list[Article]:
        """Every article tied to these by `translation_of`, either way, in any state (StoryReader)."""


class ListStore(Protocol):
    """Mailing lists inside a DigestUnitOfWork."""

    def add(
        self, *, slug: str, name: str, frequency: Frequency, language: str | None,
        categories: Sequence[str], custom_frequency: bool, now: datetime,
        description: str = "", visibility: Visibility = "public", repeat_stories: bool = False,
    ) -> MailingList:
        """Insert a list (slug checked free by the caller)."""

    def set_repeat_stories(self, list_id: int, repeat: bool) -> None:
        """Set whether the list mails stories readers already had through another list."""

    def save(self, lst: MailingList) -> None:
        """Store every field of an existing list but its id and slug (which never change)."""

    def get(self, list_id: int) -> MailingList | None:
        """The list with this id, or None."""

    def by_slug(self, slug: str) -> MailingList | None:
        """The list with this slug, or None."""

    def by_slugs(self, slugs: Sequence[str]) -> list[MailingList]:
        """The lists among these slugs that exist, by id."""

    def all(self) -> list[MailingList]:
        """Every list, by id."""


class SubscriberStore(Protocol):
    """Subscribers and their subscriptions inside a DigestUnitOfWork."""

    def get(self, subscriber_id: int) -> Subscriber | None:
        """The subscriber with this id, or None."""

    def by_email(self, email: str) -> Subscriber | None:
        """The subscriber with this (normalized) address, or None."""

    def add(self, *, email: str, name: str, language: str, now: datetime) -> Subscriber:
        """Insert a `pending` subscriber."""

    def save(self, subscriber: Subscriber) -> None:
        """Write the subscriber's name, language, status, status reason and confirmation time."""

    def subscriptions(self, subscriber_id: int) -> dict[int, Subscription]:
        """The subscriber's subscriptions by list id."""

    def by_emails(self, emails: Sequence[str]) -> dict[str, Subscriber]:
        """The subscribers with these addresses (any case), keyed by the lower-cased address."""

    def add_many(
        self, readers: Sequence[tuple[str, str, str]], *, status: SubscriberStatus,
        confirmed_at: datetime | None, now: datetime,
    ) -> list[Subscriber]:
        """Insert one subscriber per (email, name, language), none known yet; in the same order."""

    def subscriptions_to(self, list_id: int, subscriber_ids: Sequence[int]) -> dict[int, Subscription]:
        """The subscriptions to one list of these subscribers, by subscriber id."""

    def add_subscriptions(self, subscriptions: Sequence[Subscription], *, now: datetime) -> None:
        """Insert subscriptions that do not exist yet."""

    def save_subscription(self, subscription: Subscription, *, now: datetime) -> None:
        """Insert or overwrite (status and frequency) one subscription."""

    def set_subscription_status(
        self, subscriber_id: int, list_ids: Sequence[int] | None, status: SubscriptionStatus
    ) -> None:
        """Set the status of the subscriber's subscriptions to these lists (None: to every list)."""

    def members(self, list_id: int) -> list[tuple[Subscriber, Subscription]]:
        """The subscribers of a list with their subscription, by subscriber id."""

    def skip_queued_deliveries(self, subscriber_id: int, *, reply: str, now: datetime) -> int:
        """Mark the subscriber's `queued` deliveries `skipped` with this reply; returns how many."""

    def erase(self, subscriber_id: int, *, placeholder: str, reason: str) -> None:
        """Replace the subscriber's address by `placeholder`, blank its name, leave every list, mark it
        `suppressed` with `reason`, and cut its address out of the replies its deliveries kept.

        Delivery rows stay (states, dates, counts) so the ledger adds up; they name no one after.
        """


class DigestUnitOfWork(Transaction, Protocol):
    """One transaction over lists and subscribers; leaving without commit() rolls back."""

    @property
    def lists(self) -> ListStore:
        """The lists inside this transaction."""

    @property
    def subscribers(self) -> SubscriberStore:
        """The subscribers inside this transaction."""


class BounceStore(Protocol):
    """What applying bounce and complaint reports needs (one transaction per call)."""

    def report_target(self, delivery_id: int) -> ReportTarget | None:
        """The delivery and its subscriber's address, or None when either no longer exists."""

    def bounce(self, target: ReportTarget, *, reply: str, reason: str, now: datetime) -> None:
        """Turn the delivery from `sent` to `bounced` and suppress its subscriber (`bounced`).

        Clears the edition's stored counts first; a row that is not `sent` keeps its state.
        """

    def complain(self, target: ReportTarget, *, reply: str, reason: str, now: datetime) -> None:
        """Record the complaint as the delivery's last reply and mark the subscriber `complained`.

        A subscriber already `complained` keeps its first reason.
        """
