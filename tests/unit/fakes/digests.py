"""In-memory fakes of the digest ports (digests/ports.py), sharing one `FakeDigestDb`.

They keep the rules the SQL adapters keep (a claim takes only due queued rows, a requeue leaves
`sending` rows alone, an edition is stored only with recipients), so the use cases can be tested
without a database; the integration tests prove the SQL side.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType

from syndicate.digests.edition_mail import TemplateCache
from syndicate.digests.fanout import Fanout
from syndicate.digests.ports import (
    ClaimedDelivery,
    EditionContent,
    MailingList,
    NewEdition,
    Outcome,
    ReportTarget,
    StoreOutcomeWriter,
    Subscriber,
    Subscription,
    Visibility,
)
from syndicate.digests.service import DigestService
from syndicate.digests.states import (
    STATES,
    DeliveryState,
    Frequency,
    SubscriberStatus,
    SubscriptionStatus,
)
from syndicate.digests.tokens import Signer
from syndicate.domain.articles import Article
from syndicate.domain.languages import in_language_range
from syndicate.errors import DatabaseUnavailable, NotFound
from syndicate.mail.mailer import Mailer
from syndicate.settings import Settings
from tests.unit.fakes.tasks import FakeTaskQueue

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class FakeDelivery:
    """One ledger row."""

    id: int
    edition_id: int
    subscriber_id: int
    state: DeliveryState = DeliveryState.QUEUED
    attempts: int = 0
    last_reply: str | None = None
    next_attempt_at: datetime = EPOCH
    enqueued_at: datetime | None = None
    enqueued_epoch: str | None = None
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    article_ids: tuple[int, ...] | None = None  # a reader's entries, as the SQL claim decides them


@dataclass
class FakeEdition:
    """One stored edition."""

    id: int
    edition: NewEdition
    created_at: datetime


@dataclass
class FakeDigestDb:
    """The tables, in dicts; the stores below are views on one of these."""

    lists: dict[int, MailingList] = field(default_factory=dict)
    subscribers: dict[int, Subscriber] = field(default_factory=dict)
    subscriptions: dict[tuple[int, int], Subscription] = field(default_factory=dict)
    editions: dict[int, FakeEdition] = field(default_factory=dict)
    deliveries: dict[int, FakeDelivery] = field(default_factory=dict)
    articles: dict[int, Article] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add_list(self, slug: str = "world", frequency: Frequency = Frequency.DAILY, *,
                 name: str = "World news", language: str | None = None,
                 categories: tuple[str, ...] = (), custom_frequency: bool = False,
                 description: str = "", visibility: Visibility = "public") -> MailingList:
        """Store a list."""
        lst = MailingList(next(self.ids), slug, name, frequency, language, categories, custom_frequency,
                          description, visibility)
        self.lists[lst.id] = lst
        return lst

    def add_reader(self, email: str, *lists: MailingList, status: SubscriberStatus = SubscriberStatus.ACTIVE,
                   name: str = "", language: str = "en", frequency: Frequency | None = None) -> Subscriber:
        """Store a subscriber with an active subscription to each list."""
        reader = Subscriber(next(self.ids), email, name, language, status)
        self.subscribers[reader.id] = reader
        for lst in lists:
            self.subscriptions[(reader.id, lst.id)] = Subscription(
                reader.id, lst.id, SubscriptionStatus.ACTIVE, frequency)
        return reader

    def add_article(self, title: str, published_at: datetime, *, language: str = "en",
                    categories: tuple[str, ...] = (), translation_of: str | None = None) -> Article:
        """Store a published article."""
        article_id = next(self.ids)
        article = Article(id=article_id, guid=f"g-{article_id}", slug=f"a-{article_id}", title=title,
                          body_html=f"<p>{title}.</p>", published_at=published_at,
                          updated_at=published_at, language=language, categories=categories,
                          translation_of=translation_of)
        self.articles[article_id] = article
        return article

    def by_email(self, email: str) -> Subscriber:
        """The subscriber with this address (KeyError when none)."""
        return next(s for s in self.subscribers.values() if s.email == email)

    def states(self, edition_id: int) -> dict[str, DeliveryState]:
        """Each recipient's delivery state in an edition."""
        return {self.subscribers[d.subscriber_id].email: d.state
                for d in self.deliveries.values() if d.edition_id == edition_id}


def _ranges(ids: list[int], size: int) -> list[tuple[int, int]]:
    """(first, last) of each run of `size` sorted ids, as the ledger cuts batches."""
    return [(chunk[0], chunk[-1]) for chunk in (ids[i:i + size] for i in range(0, len(ids), size))]


def _due(row: FakeDelivery, now: datetime, stale_before: datetime, epoch: str | None) -> bool:
    return (row.state == DeliveryState.QUEUED and row.next_attempt_at <= now
            and (row.enqueued_at is None or row.enqueued_at < stale_before
                 or row.enqueued_epoch != epoch or epoch is None))


class FakeDeliveryStore:
    """DeliveryStore on a FakeDigestDb; `recorded` keeps every outcome written, in order.

    `down_for` makes the next N calls of record/heartbeat raise DatabaseUnavailable, as a
    database that is away would; `attempts` is the append-only attempt history.
    """

    def __init__(self, db: FakeDigestDb) -> None:
        self.db = db
        self.recorded: list[Outcome] = []
        self.records = 0
        self.released: list[int] = []
        self.down_for = 0
        self.heartbeats: list[list[int]] = []
        self.attempts: list[tuple[int, DeliveryState, str]] = []

    def _maybe_down(self) -> None:
        if self.down_for > 0:
            self.down_for -= 1
            raise DatabaseUnavailable("the database is unreachable (fake)")

    def heartbeat(self, delivery_ids: Sequence[int], *, now: datetime) -> int:
        self._maybe_down()
        self.heartbeats.append(list(delivery_ids))
        renewed = 0
        for i in delivery_ids:
            row = self.db.deliveries[i]
            if row.state == DeliveryState.SENDING:
                row.claimed_at = now
                renewed += 1
        return renewed

    def forget_enqueued(self, edition_id: int, lo: int, hi: int) -> None:
        for row in self.db.deliveries.values():
            if row.edition_id == edition_id and lo <= row.id <= hi and row.state == DeliveryState.QUEUED:
                row.enqueued_at, row.enqueued_epoch = None, None

    def edition_content(self, edition_id: int) -> EditionContent:
        found = self.db.editions.get(edition_id)
        if found is None:
            raise NotFound("edition", edition_id)
        lst = self.db.lists[found.edition.list_id]
        articles = [self.db.articles[i] for i in found.edition.article_ids]
        versions = {v.article_id: self.db.articles[v.article_id]
                    for s in found.edition.stories for v in s.versions}
        return EditionContent(edition_id, lst.id, lst.slug, lst.name, found.edition.frequency, articles,
                              versions)

    def claim(
        self, edition_id: int, list_id: int, lo: int, hi: int, *, now: datetime
    ) -> list[ClaimedDelivery]:
        got: list[ClaimedDelivery] = []
        for row in sorted(self.db.deliveries.values(), key=lambda r: r.id):
            if (row.edition_id != edition_id or not lo <= row.id <= hi
                    or row.state != DeliveryState.QUEUED or row.next_attempt_at > now):
                continue
            row.state, row.attempts, row.claimed_at = DeliveryState.SENDING, row.attempts + 1, now
            reader = self.db.subscribers[row.subscriber_id]
            subscription = self.db.subscriptions.get((reader.id, list_id))
            receiving = (reader.status == SubscriberStatus.ACTIVE and subscription is not None
                         and subscription.status == SubscriptionStatus.ACTIVE)
            got.append(ClaimedDelivery(row.id, reader.id, reader.email, reader.name, reader.language,
                                       row.attempts, receiving, row.article_ids))
        return got

    def writer(self) -> StoreOutcomeWriter:
        return StoreOutcomeWriter(self)

    def record(self, outcomes: Sequence[Outcome], suppress: Sequence[int], *, now: datetime) -> None:
        self._maybe_down()
        self.records += 1
        for outcome in outcomes:
            self.recorded.append(outcome)
            if outcome.state != DeliveryState.SKIPPED:
                self.attempts.append((outcome.delivery_id, outcome.state, outcome.last_reply))
            row = self.db.deliveries[outcome.delivery_id]
            row.state, row.last_reply = outcome.state, outcome.last_reply
            if outcome.state == DeliveryState.SENT:
                row.sent_at = now
            if outcome.retry_at is not None:
                row.next_attempt_at, row.enqueued_at = outcome.retry_at, None
        for subscriber_id in suppress:
            reader = self.db.subscribers[subscriber_id]
            if reader.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
                self.db.subscribers[subscriber_id] = replace(reader, status=SubscriberStatus.BOUNCED,
                                                             status_reason="bounced")

    def release(self, delivery_ids: Sequence[int], *, now: datetime) -> None:
        self._maybe_down()
        self.released += list(delivery_ids)
        for i in delivery_ids:
            row = self.db.deliveries[i]
            if row.state == DeliveryState.SENDING:
                row.state, row.enqueued_at = DeliveryState.QUEUED, None

    def cut_batches(self, edition_id: int, *, size: int, now: datetime, stale_before: datetime,
                    epoch: str | None, after: int, max_ranges: int) -> list[tuple[int, int]]:
        due = sorted(r.id for r in self.db.deliveries.values()
                     if r.edition_id == edition_id and r.id > after and _due(r, now, stale_before, epoch))
        ranges = _ranges(due, size)[:max_ranges]
        for lo, hi in ranges:
            for i in due:
                if lo <= i <= hi:
                    self.db.deliveries[i].enqueued_at = now
                    self.db.deliveries[i].enqueued_epoch = epoch
        return ranges

    def fresh_batches(self, edition_id: int, *, size: int, epoch: str, at: datetime) -> list[tuple[int, int]]:
        marked = sorted(r.id for r in self.db.deliveries.values()
                        if r.edition_id == edition_id and r.state == DeliveryState.QUEUED
                        and r.enqueued_epoch == epoch and r.enqueued_at == at)
        return _ranges(marked, size)

    def release_stale(self, *, now: datetime, lease: timedelta) -> int:
        stale = [r for r in self.db.deliveries.values() if r.state == DeliveryState.SENDING
                 and r.claimed_at is not None and r.claimed_at < now - lease]
        for row in stale:
            row.state, row.enqueued_at, row.next_attempt_at = DeliveryState.QUEUED, None, now
        return len(stale)

    def editions_with_due_rows(
        self, *, now: datetime, stale_before: datetime, epoch: str | None
    ) -> list[int]:
        return sorted({r.edition_id for r in self.db.deliveries.values()
                       if _due(r, now, stale_before, epoch)})

    def requeue(self, edition_id: int, *, states: Sequence[DeliveryState] | None, subscriber_id: int | None,
                now: datetime) -> int:
        count = 0
        for row in self.db.deliveries.values():
            if (row.edition_id != edition_id or row.state == DeliveryState.SENDING
                    or (states is not None and row.state not in states)
                    or (subscriber_id is not None and row.subscriber_id != subscriber_id)):
                continue
            row.state, row.attempts, row.next_attempt_at, row.enqueued_at = DeliveryState.QUEUED, 0, now, None
            count += 1
        return count

    def counts(self, edition_id: int) -> dict[DeliveryState, int]:
        found = dict.fromkeys(STATES, 0)
        for row in self.db.deliveries.values():
            if row.edition_id == edition_id:
                found[row.state] += 1
        return found

    def has_pending(self, edition_id: int) -> bool:
        counts = self.counts(edition_id)
        return bool(counts[DeliveryState.QUEUED] or counts[DeliveryState.SENDING])


class FakeEditionStore:
    """EditionStore on a FakeDigestDb."""

    def __init__(self, db: FakeDigestDb) -> None:
        self.db = db

    def exists(self, edition_id: int) -> bool:
        return edition_id in self.db.editions

    def find(self, list_id: int, dedupe_key: str) -> int | None:
        return next((e.id for e in self.db.editions.values()
                     if e.edition.list_id == list_id and e.edition.dedupe_key == dedupe_key), None)

    def previous_until(self, list_id: int, frequency: Frequency) -> datetime | None:
        ends = [e.edition.until for e in self.db.editions.values()
                if e.edition.list_id == list_id and e.edition.frequency == frequency]
        return max(ends, default=None)

    def matching_articles(self, lst: MailingList, *, since: datetime, until: datetime,
                          article_ids: Sequence[int] | None, limit: int) -> list[Article]:
        found = [
            a for a in self.db.articles.values()
            if a.unpublished_at is None
            and (a.id in article_ids if article_ids is not None else since < a.published_at <= until)
            and (not lst.language or in_language_range(a.language, lst.language))
            and (not lst.categories or set(lst.categories) & set(a.categories))
        ]
        found.sort(key=lambda a: (a.published_at, a.id), reverse=True)
        return found[:limit]

    def add(self, edition: NewEdition, lst: MailingList, *, now: datetime,
            epoch: str | None = None) -> int | None:
        if edition.dedupe_key is not None:
            existing = self.find(lst.id, edition.dedupe_key)
            if existing is not None:
                return existing
        recipients = sorted(
            s.subscriber_id for s in self.db.subscriptions.values()
            if s.list_id == lst.id and s.status == SubscriptionStatus.ACTIVE
            and self.db.subscribers[s.subscriber_id].status == SubscriberStatus.ACTIVE
            and (s.frequency or lst.frequency) == edition.frequency
        )
        if not recipients:
            return None
        edition_id = next(self.db.ids)
        self.db.editions[edition_id] = FakeEdition(edition_id, edition, now)
        for subscriber_id in recipients:
            delivery_id = next(self.db.ids)
            self.db.deliveries[delivery_id] = FakeDelivery(delivery_id, edition_id, subscriber_id,
                                                           next_attempt_at=now)
            if epoch is not None:
                self.db.deliveries[delivery_id].enqueued_at = now
                self.db.deliveries[delivery_id].enqueued_epoch = epoch
        return edition_id

    def article(self, article_id: int) -> Article | None:
        return self.db.articles.get(article_id)

    def linked(self, articles: Sequence[Article]) -> list[Article]:
        guids = {a.guid for a in articles} | {a.translation_of for a in articles if a.translation_of}
        while True:
            found = [a for a in self.db.articles.values() if a.guid in guids or a.translation_of in guids]
            more = {a.guid for a in found} | {a.translation_of for a in found if a.translation_of}
            if more <= guids:
                return found
            guids |= more


class FakeListStore:
    """ListStore on a FakeDigestDb."""

    def __init__(self, db: FakeDigestDb) -> None:
        self.db = db

    def add(self, *, slug: str, name: str, frequency: Frequency, language: str | None,
            categories: Sequence[str], custom_frequency: bool, now: datetime,
            description: str = "", visibility: Visibility = "public",
            repeat_stories: bool = False) -> MailingList:
        lst = self.db.add_list(slug, frequency, name=name, language=language,
                               categories=tuple(categories), custom_frequency=custom_frequency,
                               description=description, visibility=visibility)
        self.db.lists[lst.id] = replace(lst, repeat_stories=repeat_stories)
        return self.db.lists[lst.id]

    def set_repeat_stories(self, list_id: int, repeat: bool) -> None:
        self.db.lists[list_id] = replace(self.db.lists[list_id], repeat_stories=repeat)

    def save(self, lst: MailingList) -> None:
        self.db.lists[lst.id] = lst

    def get(self, list_id: int) -> MailingList | None:
        return self.db.lists.get(list_id)

    def by_slug(self, slug: str) -> MailingList | None:
        return next((lst for lst in self.db.lists.values() if lst.slug == slug), None)

    def by_slugs(self, slugs: Sequence[str]) -> list[MailingList]:
        return [lst for lst in self.all() if lst.slug in slugs]

    def all(self) -> list[MailingList]:
        return sorted(self.db.lists.values(), key=lambda lst: lst.id)


class FakeSubscriberStore:
    """SubscriberStore on a FakeDigestDb."""

    def __init__(self, db: FakeDigestDb) -> None:
        self.db = db

    def get(self, subscriber_id: int) -> Subscriber | None:
        return self.db.subscribers.get(subscriber_id)

    def by_email(self, email: str) -> Subscriber | None:
        return next((s for s in self.db.subscribers.values() if s.email.lower() == email.lower()), None)

    def add(self, *, email: str, name: str, language: str, now: datetime) -> Subscriber:
        reader = Subscriber(next(self.db.ids), email, name, language, SubscriberStatus.PENDING)
        self.db.subscribers[reader.id] = reader
        return reader

    def save(self, subscriber: Subscriber) -> None:
        if subscriber.id in self.db.subscribers:
            self.db.subscribers[subscriber.id] = subscriber

    def subscriptions(self, subscriber_id: int) -> dict[int, Subscription]:
        return {s.list_id: s for s in self.db.subscriptions.values() if s.subscriber_id == subscriber_id}

    def save_subscription(self, subscription: Subscription, *, now: datetime) -> None:
        self.db.subscriptions[(subscription.subscriber_id, subscription.list_id)] = subscription

    def by_emails(self, emails: Sequence[str]) -> dict[str, Subscriber]:
        keys = {e.lower() for e in emails}
        return {s.email.lower(): s for s in self.db.subscribers.values() if s.email.lower() in keys}

    def add_many(self, readers: Sequence[tuple[str, str, str]], *, status: SubscriberStatus,
                 confirmed_at: datetime | None, now: datetime) -> list[Subscriber]:
        added = [Subscriber(next(self.db.ids), email, name, language, status, None, confirmed_at)
                 for email, name, language in readers]
        self.db.subscribers.update((s.id, s) for s in added)
        return added

    def subscriptions_to(self, list_id: int, subscriber_ids: Sequence[int]) -> dict[int, Subscription]:
        return {i: self.db.subscriptions[(i, list_id)] for i in subscriber_ids
                if (i, list_id) in self.db.subscriptions}

    def add_subscriptions(self, subscriptions: Sequence[Subscription], *, now: datetime) -> None:
        for s in subscriptions:
            self.db.subscriptions[(s.subscriber_id, s.list_id)] = s

    def set_subscription_status(self, subscriber_id: int, list_ids: Sequence[int] | None,
                                status: SubscriptionStatus) -> None:
        for key, s in list(self.db.subscriptions.items()):
            if s.subscriber_id == subscriber_id and (list_ids is None or s.list_id in list_ids):
                self.db.subscriptions[key] = replace(s, status=status)

    def members(self, list_id: int) -> list[tuple[Subscriber, Subscription]]:
        found = [(self.db.subscribers[s.subscriber_id], s) for s in self.db.subscriptions.values()
                 if s.list_id == list_id]
        return sorted(found, key=lambda pair: pair[0].id)

    def skip_queued_deliveries(self, subscriber_id: int, *, reply: str, now: datetime) -> int:
        rows = [r for r in self.db.deliveries.values()
                if r.subscriber_id == subscriber_id and r.state == DeliveryState.QUEUED]
        for row in rows:
            row.state, row.last_reply = DeliveryState.SKIPPED, reply
        return len(rows)

    def erase(self, subscriber_id: int, *, placeholder: str, reason: str) -> None:
        old = self.db.subscribers.get(subscriber_id)
        if old is None:
            return
        self.db.subscribers[subscriber_id] = Subscriber(
            subscriber_id, placeholder, "", "en", SubscriberStatus.SUPPRESSED, reason)
        self.set_subscription_status(subscriber_id, None, SubscriptionStatus.UNSUBSCRIBED)
        for row in self.db.deliveries.values():
            if row.subscriber_id == subscriber_id and row.last_reply:
                for address in {old.email, old.email.lower()}:
                    row.last_reply = row.last_reply.replace(address, "[erased]")


class FakeDigestUnitOfWork:
    """DigestUnitOfWork on a FakeDigestDb: leaving without commit() restores what it changed."""

    def __init__(self, db: FakeDigestDb) -> None:
        self.db = db
        self.lists = FakeListStore(db)
        self.subscribers = FakeSubscriberStore(db)
        self.commits = 0
        self._saved: tuple[object, ...] = ()
        self._committed = False

    def __call__(self) -> FakeDigestUnitOfWork:
        """A unit of work (itself): pass the instance where a factory is expected."""
        return self

    def __enter__(self) -> FakeDigestUnitOfWork:
        db = self.db
        self._saved = copy.deepcopy((db.lists, db.subscribers, db.subscriptions, db.deliveries))
        self._committed = False
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self._committed:
            db = self.db
            db.lists, db.subscribers, db.subscriptions, db.deliveries = self._saved  # type: ignore[assignment]
            self.lists.db = self.subscribers.db = db

    def commit(self) -> None:
        self.commits += 1
        self._committed = True
        self._saved = copy.deepcopy((self.db.lists, self.db.subscribers, self.db.subscriptions,
                                     self.db.deliveries))


class FakeBounceStore:
    """BounceStore on a FakeDigestDb."""

    def __init__(self, db: FakeDigestDb) -> None:
        self.db = db

    def report_target(self, delivery_id: int) -> ReportTarget | None:
        row = self.db.deliveries.get(delivery_id)
        reader = self.db.subscribers.get(row.subscriber_id) if row is not None else None
        if row is None or reader is None:
            return None
        return ReportTarget(row.edition_id, row.id, reader.id, reader.email)

    def bounce(self, target: ReportTarget, *, reply: str, reason: str, now: datetime) -> None:
        row = self.db.deliveries[target.delivery_id]
        if row.state == DeliveryState.SENT:
            row.state, row.last_reply = DeliveryState.BOUNCED, reply
        reader = self.db.subscribers[target.subscriber_id]
        if reader.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
            self.db.subscribers[reader.id] = replace(reader, status=SubscriberStatus.BOUNCED,
                                                     status_reason=reason)

    def complain(self, target: ReportTarget, *, reply: str, reason: str, now: datetime) -> None:
        self.db.deliveries[target.delivery_id].last_reply = reply
        reader = self.db.subscribers[target.subscriber_id]
        if reader.status != SubscriberStatus.COMPLAINED:
            self.db.subscribers[reader.id] = replace(reader, status=SubscriberStatus.COMPLAINED,
                                                     status_reason=reason)


def digest_service(db: FakeDigestDb, settings: Settings, *, tasks: FakeTaskQueue, mailer: Mailer,
                   now: Callable[[], datetime]) -> DigestService:
    """The digest use cases wired to fakes, as bootstrap wires them to SQL."""
    deliveries = FakeDeliveryStore(db)
    fanout = Fanout(deliveries, mailer, TemplateCache(), Signer(settings.resolved_secret_key), settings, now)
    return DigestService(deliveries, FakeEditionStore(db), FakeDigestUnitOfWork(db), tasks, fanout,
                         settings, now)
