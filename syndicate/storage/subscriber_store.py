"""Lists, subscribers and subscriptions in SQL: the digest unit of work and its two stores."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from syndicate.digests.ports import MailingList, Subscriber, Subscription, Visibility
from syndicate.digests.states import (
    DeliveryState,
    Frequency,
    SubscriberStatus,
    SubscriptionStatus,
)
from syndicate.storage.db import SessionUnitOfWork
from syndicate.storage.digest_models import (
    DeliveryAttemptRow,
    DeliveryRow,
    MailingListRow,
    SubscriberRow,
    SubscriptionRow,
)

#: Rows per statement of the many-at-once methods: under SQLite's and PostgreSQL's parameter limits.
PART = 500
T = TypeVar("T")


def _parts(items: Sequence[T]) -> list[Sequence[T]]:
    return [items[i:i + PART] for i in range(0, len(items), PART)]


def to_list(row: MailingListRow) -> MailingList:
    """The typed list of a row."""
    return MailingList(row.id, row.slug, row.name, Frequency(row.frequency), row.language,
                       tuple(row.categories or ()), bool(row.custom_frequency),
                       row.description or "", "private" if row.visibility == "private" else "public",
                       bool(row.repeat_stories), bool(row.archived))


def to_subscriber(row: SubscriberRow) -> Subscriber:
    """The typed subscriber of a row."""
    return Subscriber(row.id, row.email, row.name, row.language, SubscriberStatus(row.status),
                      row.status_reason, row.confirmed_at)


def to_subscription(row: SubscriptionRow) -> Subscription:
    """The typed subscription of a row."""
    return Subscription(row.subscriber_id, row.list_id, SubscriptionStatus(row.status),
                        Frequency(row.frequency) if row.frequency else None)


class SqlListStore:
    """ListStore on one session (the unit of work's)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self, *, slug: str, name: str, frequency: Frequency, language: str | None,
        categories: Sequence[str], custom_frequency: bool, now: datetime,
        description: str = "", visibility: Visibility = "public", repeat_stories: bool = False,
    ) -> MailingList:
        """See ListStore.add."""
        row = MailingListRow(slug=slug, name=name, frequency=str(frequency), language=language,
                             categories=list(categories), custom_frequency=custom_frequency,
                             created_at=now, description=description, visibility=visibility,
                             repeat_stories=repeat_stories)
        self.session.add(row)
        self.session.flush()
        return to_list(row)

    def set_repeat_stories(self, list_id: int, repeat: bool) -> None:
        """See ListStore.set_repeat_stories."""
        self.session.execute(update(MailingListRow).where(MailingListRow.id == list_id)
                             .values(repeat_stories=repeat))

    def save(self, lst: MailingList) -> None:
        """See ListStore.save."""
        self.session.execute(update(MailingListRow).where(MailingListRow.id == lst.id).values(
            name=lst.name, frequency=str(lst.frequency), language=lst.language,
            categories=list(lst.categories), custom_frequency=lst.custom_frequency,
            description=lst.description, visibility=lst.visibility, repeat_stories=lst.repeat_stories,
            archived=lst.archived))

    def get(self, list_id: int) -> MailingList | None:
        """See ListStore.get."""
        row = self.session.get(MailingListRow, list_id)
        return None if row is None else to_list(row)

    def by_slug(self, slug: str) -> MailingList | None:
        """See ListStore.by_slug."""
        row = self.session.scalar(select(MailingListRow).where(MailingListRow.slug == slug))
        return None if row is None else to_list(row)

    def by_slugs(self, slugs: Sequence[str]) -> list[MailingList]:
        """See ListStore.by_slugs."""
        rows = self.session.scalars(select(MailingListRow).where(MailingListRow.slug.in_(slugs))
                                    .order_by(MailingListRow.id))
        return [to_list(r) for r in rows]

    def all(self) -> list[MailingList]:
        """See ListStore.all."""
        return [to_list(r) for r in self.session.scalars(select(MailingListRow).order_by(MailingListRow.id))]


class SqlSubscriberStore:
    """SubscriberStore on one session (the unit of work's)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, subscriber_id: int) -> Subscriber | None:
        """See SubscriberStore.get."""
        row = self.session.get(SubscriberRow, subscriber_id)
        return None if row is None else to_subscriber(row)

    def by_email(self, email: str) -> Subscriber | None:
        """See SubscriberStore.by_email (any case: one reader per address)."""
        row = self.session.scalar(select(SubscriberRow).where(SubscriberRow.email_key == email.lower()))
        return None if row is None else to_subscriber(row)

    def add(self, *, email: str, name: str, language: str, now: datetime) -> Subscriber:
        """See SubscriberStore.add."""
        row = SubscriberRow(email=email, name=name, language=language,
                            status=str(SubscriberStatus.PENDING), created_at=now)
        self.session.add(row)
        self.session.flush()
        return to_subscriber(row)

    def save(self, subscriber: Subscriber) -> None:
        """See SubscriberStore.save."""
        row = self.session.get(SubscriberRow, subscriber.id)
        if row is None:
            return
        row.name, row.language = subscriber.name, subscriber.language
        row.status, row.status_reason = str(subscriber.status), subscriber.status_reason
        row.confirmed_at = subscriber.confirmed_at

    def subscriptions(self, subscriber_id: int) -> dict[int, Subscription]:
        """See SubscriberStore.subscriptions."""
        rows = self.session.scalars(select(SubscriptionRow).where(
            SubscriptionRow.subscriber_id == subscriber_id))
        return {r.list_id: to_subscription(r) for r in rows}

    # --- many at once (the CSV import): a few statements per chunk instead of several per row --

    def by_emails(self, emails: Sequence[str]) -> dict[str, Subscriber]:
        """See SubscriberStore.by_emails."""
        keys = sorted({e.lower() for e in emails})
        found: dict[str, Subscriber] = {}
        for part in _parts(keys):
            for row in self.session.scalars(select(SubscriberRow).where(SubscriberRow.email_key.in_(part))):
                found[row.email.lower()] = to_subscriber(row)
        return found

    def add_many(
        self, readers: Sequence[tuple[str, str, str]], *, status: SubscriberStatus,
        confirmed_at: datetime | None, now: datetime,
    ) -> list[Subscriber]:
        """See SubscriberStore.add_many (one multi-row INSERT … RETURNING per part)."""
        added: list[Subscriber] = []
        for part in _parts(readers):
            values = [{"email": email, "email_key": email.lower(), "name": name, "language": language,
                       "status": str(status), "created_at": now, "confirmed_at": confirmed_at}
                      for email, name, language in part]
            ids = self.session.scalars(
                insert(SubscriberRow).returning(SubscriberRow.id, sort_by_parameter_order=True), values)
            added += [Subscriber(i, email, name, language, status, None, confirmed_at)
                      for i, (email, name, language) in zip(ids, part, strict=True)]
        return added

    def subscriptions_to(self, list_id: int, subscriber_ids: Sequence[int]) -> dict[int, Subscription]:
        """See SubscriberStore.subscriptions_to."""
        found: dict[int, Subscription] = {}
        for part in _parts(list(subscriber_ids)):
            rows = self.session.scalars(select(SubscriptionRow).where(
                SubscriptionRow.list_id == list_id, SubscriptionRow.subscriber_id.in_(part)))
            found.update((r.subscriber_id, to_subscription(r)) for r in rows)
        return found

    def add_subscriptions(self, subscriptions: Sequence[Subscription], *, now: datetime) -> None:
        """See SubscriberStore.add_subscriptions."""
        for part in _parts(subscriptions):
            self.session.execute(insert(SubscriptionRow), [
                {"subscriber_id": s.subscriber_id, "list_id": s.list_id, "status": str(s.status),
                 "frequency": str(s.frequency) if s.frequency else None, "created_at": now}
                for s in part])

    def save_subscription(self, subscription: Subscription, *, now: datetime) -> None:
        """See SubscriberStore.save_subscription."""
        key = (subscription.subscriber_id, subscription.list_id)
        row = self.session.get(SubscriptionRow, key)
        frequency = str(subscription.frequency) if subscription.frequency else None
        if row is None:
            self.session.add(SubscriptionRow(
                subscriber_id=subscription.subscriber_id, list_id=subscription.list_id,
                status=str(subscription.status), frequency=frequency, created_at=now))
        else:
            row.status, row.frequency = str(subscription.status), frequency
        self.session.flush()

    def set_subscription_status(
        self, subscriber_id: int, list_ids: Sequence[int] | None, status: SubscriptionStatus
    ) -> None:
        """See SubscriberStore.set_subscription_status."""
        stmt = update(SubscriptionRow).where(SubscriptionRow.subscriber_id == subscriber_id)
        if list_ids is not None:
            stmt = stmt.where(SubscriptionRow.list_id.in_(list_ids))
        self.session.execute(stmt.values(status=str(status)))

    def members(self, list_id: int) -> list[tuple[Subscriber, Subscription]]:
        """See SubscriberStore.members."""
        stmt = (
            select(SubscriberRow, SubscriptionRow)
            .join(SubscriptionRow, SubscriptionRow.subscriber_id == SubscriberRow.id)
            .where(SubscriptionRow.list_id == list_id)
            .order_by(SubscriberRow.id)
        )
        return [(to_subscriber(s), to_subscription(sub)) for s, sub in self.session.execute(stmt)]

    def skip_queued_deliveries(self, subscriber_id: int, *, reply: str, now: datetime) -> int:
        """See SubscriberStore.skip_queued_deliveries."""
        result = self.session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.subscriber_id == subscriber_id, DeliveryRow.state == DeliveryState.QUEUED)
            .values(state=str(DeliveryState.SKIPPED), last_reply=reply, updated_at=now)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def erase(self, subscriber_id: int, *, placeholder: str, reason: str) -> None:
        """See SubscriberStore.erase."""
        row = self.session.get(SubscriberRow, subscriber_id)
        if row is None:
            return
        # SMTP replies quote the address as given or lower-cased; both spellings go.
        spellings = sorted({row.email, row.email.lower()})
        row.email = row.email_key = placeholder
        row.name, row.language = "", "en"
        row.status, row.status_reason, row.confirmed_at = str(SubscriberStatus.SUPPRESSED), reason, None
        self.set_subscription_status(subscriber_id, None, SubscriptionStatus.UNSUBSCRIBED)
        mine = select(DeliveryRow.id).where(DeliveryRow.subscriber_id == subscriber_id)
        for address in spellings:
            self.session.execute(
                update(DeliveryRow).where(DeliveryRow.subscriber_id == subscriber_id)
                .values(last_reply=func.replace(DeliveryRow.last_reply, address, "[erased]")))
            self.session.execute(
                update(DeliveryAttemptRow).where(DeliveryAttemptRow.delivery_id.in_(mine))
                .values(reply=func.replace(DeliveryAttemptRow.reply, address, "[erased]")))
        self.session.flush()


class SqlDigestUnitOfWork(SessionUnitOfWork):
    """DigestUnitOfWork over SQLAlchemy; not re-entrant, make one per use."""

    lists: SqlListStore
    subscribers: SqlSubscriberStore

    def _open(self, session: Session) -> None:
        self.lists = SqlListStore(session)
        self.subscribers = SqlSubscriberStore(session)
