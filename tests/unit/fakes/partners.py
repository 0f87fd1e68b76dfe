"""In-memory fakes of the partner ports: one store for partners and deliveries, and an HTTP client."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from syndicate.domain.articles import Article
from syndicate.domain.events import ARTICLE_PUBLISHED, ArticleEvent
from syndicate.errors import NotFound
from syndicate.partners.ports import (
    ADMIN_REASON,
    AttemptRecord,
    BatchClaim,
    Claim,
    DeliveryState,
    DeliveryStatus,
    Partner,
    PartnerInput,
    PushFailed,
    PushResponse,
    Recorded,
    SigningKeys,
    Throttled,
)
from syndicate.partners.registry import PartnerRegistry
from syndicate.partners.service import PartnerPushes
from tests.unit.fakes.tasks import FakeTaskQueue

PENDING = DeliveryStatus.PENDING
T = TypeVar("T")


@dataclass
class FakeDelivery:
    """A delivery as the fake stores it (mutable, like a row)."""

    id: int
    partner_id: int
    event_id: int
    article_id: int
    event_type: str
    webhook_id: str
    created_at: datetime
    status: DeliveryStatus = PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    locked_until: datetime | None = None
    enqueued_at: datetime | None = None
    delivered_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None


@dataclass
class _Stored:
    partner: Partner
    keys: SigningKeys


@dataclass
class FakePartnerStore:
    """PartnerStore and PushStore over dicts; `articles` and `events` stand in for the outbox."""

    partners: dict[int, _Stored] = field(default_factory=dict)
    deliveries: dict[int, FakeDelivery] = field(default_factory=dict)
    payloads: dict[int, str] = field(default_factory=dict)
    attempts: list[AttemptRecord] = field(default_factory=list)
    articles: dict[int, Article] = field(default_factory=dict)
    events: dict[int, tuple[ArticleEvent, datetime]] = field(default_factory=dict)
    batches: list[int] = field(default_factory=list)  # records per record_batch call

    # --- test helpers ---

    def add_event(self, event: ArticleEvent, article: Article | None, at: datetime) -> ArticleEvent:
        """Record an outbox event (and the article's current state, when given)."""
        self.events[event.event_id] = (event, at)
        if article is not None:
            self.articles[article.id] = article
        return event

    def partner(self, partner_id: int) -> Partner:
        """The stored partner."""
        return self.partners[partner_id].partner

    def _change(self, partner_id: int, **changes: object) -> Partner:
        stored = self._stored(partner_id)
        stored.partner = dataclasses.replace(stored.partner, **changes)  # type: ignore[arg-type]
        return stored.partner

    def _stored(self, partner_id: int) -> _Stored:
        if partner_id not in self.partners:
            raise NotFound("partner", partner_id)
        return self.partners[partner_id]

    # --- PartnerStore ---

    def add(self, fields: PartnerInput, keys: SigningKeys, *, now: datetime) -> Partner:
        partner = Partner(
            id=len(self.partners) + 1, name=fields.name or "", url=fields.url or "",
            categories=tuple(fields.categories or ()), language=fields.language or None,
            rate_limit_per_minute=fields.rate_limit_per_minute or None, active=True,
            disabled_at=None, disabled_reason=None, failing_since=None,
            previous_secret_until=keys.previous_until, created_at=now, updated_at=now,
            embargoed=bool(fields.embargoed),
        )
        self.partners[partner.id] = _Stored(partner, keys)
        return partner

    def get(self, partner_id: int) -> Partner:
        return self._stored(partner_id).partner

    def edit(self, partner_id: int, fields: PartnerInput, *, now: datetime) -> Partner:
        changes: dict[str, object] = {"updated_at": now}
        if fields.name is not None:
            changes["name"] = fields.name
        if fields.url is not None:
            changes["url"] = fields.url
        if fields.categories is not None:
            changes["categories"] = tuple(fields.categories)
        if fields.language is not None:
            changes["language"] = fields.language or None
        if fields.rate_limit_per_minute is not None:
            changes["rate_limit_per_minute"] = fields.rate_limit_per_minute or None
        if fields.embargoed is not None:
            changes["embargoed"] = fields.embargoed
        return self._change(partner_id, **changes)

    def keys(self, partner_id: int) -> SigningKeys:
        return self._stored(partner_id).keys

    def set_keys(self, partner_id: int, keys: SigningKeys, *, now: datetime) -> None:
        self._stored(partner_id).keys = keys
        self._change(partner_id, previous_secret_until=keys.previous_until, updated_at=now)

    def set_active(self, partner_id: int, active: bool, *, now: datetime) -> Partner:
        if not active:
            return self._change(partner_id, active=False, disabled_at=now,
                                disabled_reason=ADMIN_REASON, updated_at=now)
        for d in self.deliveries.values():
            if d.partner_id == partner_id and d.status is PENDING:
                d.next_attempt_at, d.enqueued_at, d.locked_until = now, None, None
        return self._change(partner_id, active=True, disabled_at=None, disabled_reason=None,
                            failing_since=None, updated_at=now)

    # --- PushStore ---

    def _is_due(self, d: FakeDelivery, now: datetime) -> bool:
        stored = self.partners.get(d.partner_id)
        return (
            d.status is PENDING and d.next_attempt_at is not None and d.next_attempt_at <= now
            and (d.locked_until is None or d.locked_until < now)
            and stored is not None and stored.partner.active
            and not any(
                o.partner_id == d.partner_id and o.article_id == d.article_id
                and o.status is PENDING and o.event_id < d.event_id
                for o in self.deliveries.values()
            )
        )

    def due(self, *, now: datetime, limit: int) -> list[int]:
        found = sorted((d for d in self.deliveries.values() if self._is_due(d, now)),
                       key=lambda d: (d.event_id, d.id))
        return [d.id for d in found[:limit]]

    def take_due(self, *, now: datetime, limit: int, enqueued_before: datetime) -> list[int]:
        def quiet(d: FakeDelivery) -> bool:
            return d.enqueued_at is None or d.enqueued_at < enqueued_before

        ids = [i for i in self.due(now=now, limit=len(self.deliveries)) if quiet(self.deliveries[i])]
        ids = ids[:limit]
        for i in ids:
            self.deliveries[i].enqueued_at = now
        return ids

    def active_partners(self) -> list[Partner]:
        return [s.partner for s in self.partners.values() if s.partner.active]

    def partners_with_delivery_of(self, event_id: int) -> set[int]:
        return {d.partner_id for d in self.deliveries.values() if d.event_id == event_id}

    def partners_told_about(self, article_id: int) -> set[int]:
        return {d.partner_id for d in self.deliveries.values() if d.article_id == article_id}

    def article(self, article_id: int) -> Article | None:
        return self.articles.get(article_id)

    def latest_event(self, article_id: int) -> ArticleEvent | None:
        mine = [e for e, _at in self.events.values() if e.article_id == article_id]
        return max(mine, key=lambda e: e.event_id) if mine else None

    def event_time(self, event_id: int) -> datetime | None:
        found = self.events.get(event_id)
        return found[1] if found else None

    def add_deliveries(
        self, event: ArticleEvent, body: str, webhook_ids: Mapping[int, str], *, now: datetime,
        enqueued: bool,
    ) -> list[int]:
        self.payloads.setdefault(event.event_id, body)
        ids = []
        for partner_id, webhook_id in webhook_ids.items():
            d = FakeDelivery(
                id=len(self.deliveries) + 1, partner_id=partner_id, event_id=event.event_id,
                article_id=event.article_id, event_type=event.type, webhook_id=webhook_id,
                created_at=now, next_attempt_at=now, enqueued_at=now if enqueued else None,
            )
            self.deliveries[d.id] = d
            ids.append(d.id)
        return ids

    def supersede_embargoes(self, article_id: int) -> int:
        gone = [d for d in self.deliveries.values() if d.article_id == article_id
                and d.event_type == "article.embargoed" and d.status is PENDING and d.locked_until is None]
        for d in gone:
            d.status, d.next_attempt_at, d.enqueued_at = DeliveryStatus.DEAD, None, None
            d.last_error = "superseded by the release"
        return len(gone)

    def requeue(
        self, partner_id: int, *, now: datetime, status: DeliveryStatus | None = None,
        article_id: int | None = None,
    ) -> list[int]:
        found = sorted(
            (d for d in self.deliveries.values() if d.partner_id == partner_id
             and (status is None or d.status is status)
             and (article_id is None or d.article_id == article_id)),
            key=lambda d: d.event_id,
        )
        for d in found:
            d.status, d.attempts, d.next_attempt_at = PENDING, 0, now
            d.locked_until = d.enqueued_at = d.delivered_at = None
        return [d.id for d in found]

    def claim_batch(self, delivery_ids: Sequence[int], *, now: datetime, lease_until: datetime) -> BatchClaim:
        ids = list(dict.fromkeys(delivery_ids))
        due = sorted((self.deliveries[i] for i in ids if i in self.deliveries
                      and self._is_due(self.deliveries[i], now)), key=lambda d: (d.event_id, d.id))
        claims: list[Claim] = []
        throttled: dict[int, Throttled] = {}
        taken_over = 0
        for d in due:
            limit = self.partners[d.partner_id].partner.rate_limit_per_minute
            recent = [a for a in self.attempts
                      if a.partner_id == d.partner_id and a.attempted_at >= now - timedelta(minutes=1)]
            mine = sum(1 for c in claims if c.partner_id == d.partner_id)
            if limit and len(recent) + mine >= limit:
                throttled[d.id] = Throttled(d.partner_id, limit)
                continue
            taken_over += d.locked_until is not None
            claims.append(self._claim(d, lease_until))
        got = {c.delivery_id for c in claims} | set(throttled)
        skipped = {i: self.state(i) for i in ids if i not in got}
        return BatchClaim(claims, throttled, skipped, taken_over=taken_over)

    def _claim(self, d: FakeDelivery, lease_until: datetime) -> Claim:
        stored = self.partners[d.partner_id]
        d.attempts += 1
        d.locked_until, d.enqueued_at = lease_until, None
        return Claim(
            delivery_id=d.id, partner_id=d.partner_id, partner_name=stored.partner.name,
            url=stored.partner.url, webhook_id=d.webhook_id, body=self.payloads[d.event_id],
            attempts=d.attempts, keys=stored.keys, failing_since=stored.partner.failing_since,
        )

    def state(self, delivery_id: int) -> DeliveryState | None:
        d = self.deliveries.get(delivery_id)
        if d is None:
            return None
        stored = self.partners.get(d.partner_id)
        return DeliveryState(d.status, d.next_attempt_at, d.locked_until,
                             stored is not None and stored.partner.active)

    def forget_enqueued_many(self, delivery_ids: Sequence[int]) -> None:
        for delivery_id in delivery_ids:
            self.deliveries[delivery_id].enqueued_at = None

    def postpone_many(self, moves: Mapping[int, datetime]) -> None:
        for delivery_id, at in moves.items():
            d = self.deliveries[delivery_id]
            d.next_attempt_at, d.enqueued_at = at, None

    def renew(self, leases: Mapping[int, int], *, lease_until: datetime) -> None:
        for delivery_id, attempts in leases.items():
            d = self.deliveries[delivery_id]
            if d.attempts == attempts and d.status is PENDING and d.locked_until is not None:
                d.locked_until = lease_until

    def record_batch(self, records: Sequence[AttemptRecord]) -> list[Recorded]:
        self.batches.append(len(records))
        return [self.record(r) for r in records]

    def record(self, record: AttemptRecord) -> Recorded:
        self.attempts.append(record)
        d = self.deliveries[record.delivery_id]
        d.status, d.locked_until, d.enqueued_at = record.status, None, None
        d.last_status_code, d.last_error = record.status_code, record.error
        d.next_attempt_at = record.next_attempt_at if record.status is PENDING else None
        if record.status is DeliveryStatus.DELIVERED:
            d.delivered_at = record.attempted_at
        if record.partner_failing_since is not None:
            self._change(record.partner_id, failing_since=record.partner_failing_since)
        if record.partner_recovered:
            self._change(record.partner_id, failing_since=None)
        disabled = False
        if record.disable_reason is not None and self.partner(record.partner_id).active:
            self._change(record.partner_id, active=False, disabled_at=record.attempted_at,
                         disabled_reason=record.disable_reason, updated_at=record.attempted_at)
            disabled = True
        successor = None
        if record.release_next and self.partner(record.partner_id).active:
            after = sorted(
                (o for o in self.deliveries.values() if o.partner_id == d.partner_id
                 and o.article_id == d.article_id and o.status is PENDING and o.event_id > d.event_id),
                key=lambda o: o.event_id,
            )
            if after:
                nxt = after[0]
                nxt.enqueued_at = None
                if nxt.next_attempt_at is None or nxt.next_attempt_at > record.attempted_at:
                    nxt.next_attempt_at = record.attempted_at
                successor = nxt.id
        return Recorded(successor=successor, disabled=disabled)


@dataclass(frozen=True)
class Sent:
    """One POST the fake client received."""

    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class FakePushClient:
    """Records every push; `reply` decides the answer (204 by default). Work submitted runs to
    completion on a fresh event loop before `submit` returns."""

    reply: Callable[[Sent], PushResponse | PushFailed] = field(
        default=lambda _sent: PushResponse(204, None, "", 0.01)
    )
    sent: list[Sent] = field(default_factory=list)

    async def push(
        self, url: str, body: bytes, headers: Mapping[str, str],
        on_start: Callable[[], None] | None = None,
    ) -> PushResponse | PushFailed:
        if on_start is not None:
            on_start()
        got = Sent(url, body, dict(headers))
        self.sent.append(got)
        return self.reply(got)

    def submit(self, work: Callable[[], Coroutine[Any, Any, T]]) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(asyncio.run(work()))
        except Exception as exc:
            future.set_exception(exc)
        return future


def answer(status: int, *, retry_after: str | None = None, body: str = "") -> Callable[[Sent], PushResponse]:
    """A reply function answering `status` to every push."""
    return lambda _sent: PushResponse(status, retry_after, body, 0.05)


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BASE_URL = "https://news.example"


class Clock:
    """A settable `now`."""

    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


@dataclass
class World:
    """Fakes wired to the real use cases, with shortcuts to register partners and publish."""

    store: FakePartnerStore
    client: FakePushClient
    tasks: FakeTaskQueue
    clock: Clock
    pushes: PartnerPushes
    registry: PartnerRegistry

    def partner(self, name: str = "agency", **fields: Any) -> tuple[int, str]:
        partner, secret = self.registry.add(
            PartnerInput(name=name, url=f"http://127.0.0.1:9/{name}", **fields)
        )
        return partner.id, secret

    def event(
        self, event_id: int, article_id: int = 1, type_: str = ARTICLE_PUBLISHED, **article: Any
    ) -> ArticleEvent:
        story = Article(id=article_id, guid=f"g-{article_id}", slug=f"s-{article_id}",
                        title=article.pop("title", f"Story {article_id}"), body_html="<p>b</p>",
                        published_at=T0, updated_at=T0, **article)
        event = ArticleEvent(event_id, type_, article_id, story.guid)
        return self.store.add_event(event, story, self.clock())

    def publish(self, event_id: int, article_id: int = 1, **article: Any) -> list[int]:
        return self.pushes.fan_out(self.event(event_id, article_id, **article))


def make_world() -> World:
    """The real pushes and registry on fresh fakes, at T0, allowing loopback partner URLs."""
    store, client, tasks, clock = FakePartnerStore(), FakePushClient(), FakeTaskQueue(), Clock()
    pushes = PartnerPushes(store, client, tasks, now=clock, base_url=BASE_URL, timeout_s=15.0,
                           disable_after_days=5.0, rng=random.Random(7))
    registry = PartnerRegistry(store, pushes, now=clock, allow_private=True,
                               secret_overlap=timedelta(hours=24))
    return World(store, client, tasks, clock, pushes, registry)
