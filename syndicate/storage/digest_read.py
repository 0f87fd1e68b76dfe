"""The digest read model: editions with counts, deliveries by filter, subscriber search and history.

One module of queries the admin pages, the admin API and the CLI share; each returns typed rows.
Listings page by keyset (`after_id`, `before_id`) where they can, so they stay fast on a million
delivery rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from syndicate.digests.ports import MailingList, Subscription
from syndicate.digests.states import DeliveryState, SubscriberStatus
from syndicate.domain.articles import Article
from syndicate.errors import NotFound
from syndicate.storage import delivery_ledger as ledger
from syndicate.storage.digest_models import (
    DeliveryAttemptRow,
    DeliveryRow,
    EditionRow,
    MailingListRow,
    SubscriberRow,
    SubscriptionRow,
)
from syndicate.storage.edition_store import edition_articles
from syndicate.storage.subscriber_store import to_list, to_subscription


@dataclass(frozen=True)
class EditionView:
    """An edition with its list and its delivery counts per state (every state present)."""

    id: int
    list_id: int
    frequency: str
    dedupe_key: str | None
    since: datetime
    until: datetime
    article_ids: list[int]
    subject: str
    created_at: datetime
    list_slug: str
    list_name: str
    counts: dict[DeliveryState, int]

    @property
    def final(self) -> bool:
        """True when no delivery is queued or sending."""
        return self.counts[DeliveryState.QUEUED] == 0 and self.counts[DeliveryState.SENDING] == 0


@dataclass(frozen=True)
class DeliveryView:
    """One email delivery and the address it goes to."""

    id: int
    edition_id: int
    subscriber_id: int
    state: DeliveryState
    attempts: int
    last_reply: str | None
    next_attempt_at: datetime
    enqueued_at: datetime | None
    claimed_at: datetime | None
    sent_at: datetime | None
    updated_at: datetime
    email: str
    reader_status: SubscriberStatus = SubscriberStatus.ACTIVE

    @property
    def resendable(self) -> bool:
        """Whether "resend to this subscriber" may be offered: never to a reader who left or was
        suppressed (bounced, complained, suppressed by an admin)."""
        return self.reader_status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING)


@dataclass(frozen=True)
class AttemptView:
    """One tried send of a delivery, as the attempt history keeps it."""

    state: DeliveryState
    reply: str | None
    at: datetime


@dataclass(frozen=True)
class SubscriberView:
    """One subscriber as admins see it."""

    id: int
    email: str
    name: str
    language: str
    status: SubscriberStatus
    status_reason: str | None
    created_at: datetime
    confirmed_at: datetime | None


def _delivery(row: DeliveryRow, email: str, status: str = SubscriberStatus.ACTIVE) -> DeliveryView:
    return DeliveryView(row.id, row.edition_id, row.subscriber_id, DeliveryState(row.state), row.attempts,
                        row.last_reply, row.next_attempt_at, row.enqueued_at, row.claimed_at, row.sent_at,
                        row.updated_at, email, SubscriberStatus(status))


def _subscriber(row: SubscriberRow) -> SubscriberView:
    return SubscriberView(row.id, row.email, row.name, row.language, SubscriberStatus(row.status),
                          row.status_reason, row.created_at, row.confirmed_at)


class DigestReads:
    """Read queries over sessions from `session_factory` (nothing is written but settled counts)."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def edition_count(self) -> int:
        """How many editions exist."""
        with self.session_factory() as session:
            return int(session.scalar(select(func.count()).select_from(EditionRow)) or 0)

    def editions(
        self, *, limit: int | None = None, offset: int = 0, before_id: int | None = None
    ) -> list[EditionView]:
        """Editions newest first with their counts (settled editions are not counted again)."""
        stmt = select(EditionRow, MailingListRow).join(
            MailingListRow, MailingListRow.id == EditionRow.list_id)
        if before_id is not None:
            stmt = stmt.where(EditionRow.id < before_id)
        stmt = stmt.order_by(EditionRow.id.desc()).offset(offset).limit(limit)
        with self.session_factory() as session:
            rows = session.execute(stmt).all()
            counts = ledger.counts_many(session, [e.id for e, _ in rows])
        return [self._edition(e, lst, counts[e.id]) for e, lst in rows]

    def editions_with_article(self, article_id: int, published_at: datetime) -> list[EditionView]:
        """Editions that carried the article, oldest first (only editions cut after it can)."""
        stmt = (select(EditionRow, MailingListRow)
                .join(MailingListRow, MailingListRow.id == EditionRow.list_id)
                .where(EditionRow.created_at >= published_at).order_by(EditionRow.id))
        with self.session_factory() as session:
            rows = [(e, lst) for e, lst in session.execute(stmt).all() if article_id in (e.article_ids or [])]
            counts = ledger.counts_many(session, [e.id for e, _ in rows])
        return [self._edition(e, lst, counts[e.id]) for e, lst in rows]

    def failures_since(self, since: datetime) -> int:
        """Email deliveries that failed or bounced since `since` (on the partial failures index)."""
        stmt = (select(func.count()).select_from(DeliveryRow)
                .where(DeliveryRow.state.in_((DeliveryState.FAILED, DeliveryState.BOUNCED)),
                       DeliveryRow.updated_at >= since))
        with self.session_factory() as session:
            return int(session.scalar(stmt) or 0)

    def edition(self, edition_id: int) -> EditionView:
        """One edition with its counts; raises NotFound naming the id."""
        with self.session_factory() as session:
            row = session.get(EditionRow, edition_id)
            if row is None:
                raise NotFound("edition", edition_id)
            lst = session.get(MailingListRow, row.list_id)
            assert lst is not None  # editions are deleted with their list (ON DELETE CASCADE)
            counts = ledger.counts_many(session, [edition_id])[edition_id]
        return self._edition(row, lst, counts)

    @staticmethod
    def _edition(row: EditionRow, lst: MailingListRow, counts: dict[DeliveryState, int]) -> EditionView:
        return EditionView(row.id, row.list_id, row.frequency, row.dedupe_key, row.since, row.until,
                           list(row.article_ids or []), row.subject, row.created_at, lst.slug, lst.name,
                           counts)

    def edition_articles(self, edition: EditionView) -> list[Article]:
        """The edition's articles in the order they were chosen."""
        with self.session_factory() as session:
            return edition_articles(session, edition.article_ids)

    def edition_list(self, edition: EditionView) -> MailingList:
        """The list an edition belongs to."""
        with self.session_factory() as session:
            lst = session.get(MailingListRow, edition.list_id)
            assert lst is not None  # editions are deleted with their list
            return to_list(lst)

    def deliveries(
        self, *, state: str | None = None, edition_id: int | None = None, subscriber_id: int | None = None,
        after_id: int = 0, limit: int | None = None, offset: int = 0,
    ) -> Iterator[DeliveryView]:
        """Deliveries by id matching every filter given, streamed (keyset: `after_id`)."""
        stmt = select(DeliveryRow, SubscriberRow.email, SubscriberRow.status).join(
            SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id).where(DeliveryRow.id > after_id)
        if state:
            stmt = stmt.where(DeliveryRow.state == state)
        if edition_id is not None:
            stmt = stmt.where(DeliveryRow.edition_id == edition_id)
        if subscriber_id is not None:
            stmt = stmt.where(DeliveryRow.subscriber_id == subscriber_id)
        stmt = stmt.order_by(DeliveryRow.id).offset(offset).limit(limit)
        with self.session_factory() as session:
            for row, email, status in session.execute(stmt.execution_options(yield_per=1000)):
                yield _delivery(row, email, status)

    def subscribers(
        self, *, q: str | None = None, status: str | None = None, after_id: int = 0, limit: int
    ) -> list[SubscriberView]:
        """Subscribers by id; `q` matches the start of the address or part of the name."""
        stmt = select(SubscriberRow).where(SubscriberRow.id > after_id)
        if q and q.strip():
            stmt = stmt.where(or_(SubscriberRow.email_key.startswith(q.strip().lower()),
                                  SubscriberRow.name.contains(q.strip())))
        if status:
            stmt = stmt.where(SubscriberRow.status == status)
        with self.session_factory() as session:
            return [_subscriber(r) for r in session.scalars(stmt.order_by(SubscriberRow.id).limit(limit))]

    def subscriber(self, subscriber_id: int) -> SubscriberView:
        """One subscriber; raises NotFound naming the id."""
        with self.session_factory() as session:
            row = session.get(SubscriberRow, subscriber_id)
            if row is None:
                raise NotFound("subscriber", subscriber_id)
            return _subscriber(row)

    def subscriptions(self, subscriber_id: int) -> list[tuple[Subscription, MailingList]]:
        """The subscriber's subscriptions with their lists."""
        stmt = (select(SubscriptionRow, MailingListRow)
                .join(MailingListRow, MailingListRow.id == SubscriptionRow.list_id)
                .where(SubscriptionRow.subscriber_id == subscriber_id))
        with self.session_factory() as session:
            return [(to_subscription(s), to_list(lst)) for s, lst in session.execute(stmt)]

    def history(self, subscriber_id: int, *, limit: int = 100) -> list[tuple[DeliveryView, str]]:
        """The subscriber's newest deliveries with their edition's subject."""
        stmt = (select(DeliveryRow, SubscriberRow.email, SubscriberRow.status, EditionRow.subject)
                .join(EditionRow, EditionRow.id == DeliveryRow.edition_id)
                .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
                .where(DeliveryRow.subscriber_id == subscriber_id)
                .order_by(DeliveryRow.id.desc()).limit(limit))
        with self.session_factory() as session:
            return [(_delivery(d, email, status), subject)
                    for d, email, status, subject in session.execute(stmt)]

    def attempts_of(self, delivery_ids: Sequence[int]) -> dict[int, list[AttemptView]]:
        """Each delivery's attempt history, oldest first (every id present, [] when none)."""
        found: dict[int, list[AttemptView]] = {i: [] for i in delivery_ids}
        if not found:
            return found
        stmt = (select(DeliveryAttemptRow).where(DeliveryAttemptRow.delivery_id.in_(list(found)))
                .order_by(DeliveryAttemptRow.id))
        with self.session_factory() as session:
            for a in session.scalars(stmt):
                found[a.delivery_id].append(AttemptView(DeliveryState(a.state), a.reply, a.at))
        return found

