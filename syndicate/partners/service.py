"""Partner pushes: fan an event out to matching partners, attempt a delivery, handle the outcome.

Every delivery row is one (event, partner) pair with a `webhook-id` and a body fixed when the row
is created, so a retry sends the very same signed message. Waiting happens in the database
(`next_attempt_at`), swept by beat; a Celery task only ever runs one attempt.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.domain.commands import PushDelivery
from syndicate.domain.events import ARTICLE_DELETED, ArticleEvent
from syndicate.errors import PartnerUrlRefused
from syndicate.partners import schedule, store
from syndicate.partners.content import article_data, matches, push_body
from syndicate.partners.guard import check_url
from syndicate.partners.secrets import new_webhook_id, signing_secrets
from syndicate.partners.signing import signed_headers
from syndicate.partners.transport import PartnerClient, PushResponse
from syndicate.storage.articles import ArticleQueries
from syndicate.storage.partner_models import (
    DEAD,
    DELIVERED,
    PENDING,
    PartnerAttemptRow,
    PartnerDeliveryRow,
    PartnerRow,
)

if TYPE_CHECKING:
    from syndicate.bootstrap import Container

SWEEP_BATCH = 500

log = logging.getLogger("syndicate.partners")

_clients: dict[float, PartnerClient] = {}
_clients_lock = threading.Lock()


def client_for(timeout_s: float) -> PartnerClient:
    """The process's pooled partner client for this timeout (built on first use)."""
    with _clients_lock:
        if timeout_s not in _clients:
            _clients[timeout_s] = PartnerClient(timeout_s)
        return _clients[timeout_s]


# --- fan-out ---------------------------------------------------------------------------------

def fan_out(container: Container, event: ArticleEvent) -> list[int]:
    """Create one delivery per matching active partner for the event; returns the new rows' ids.

    Idempotent: partners that already have a row for this event are skipped, so a re-run of the
    handler (at-least-once) creates nothing twice.
    """
    now = container.now()
    base_url = container.settings.base_url
    with container.session_factory() as session:
        done = store.existing_partner_ids(session, event.event_id)
        partners = [p for p in _active_partners(session) if p.id not in done]
        if not partners:
            return []
        timestamp = store.event_time(session, event.event_id, now)
        if event.type == ARTICLE_DELETED:
            told = set(store.partners_with_deliveries(session, event.article_id))
            chosen = [p for p in partners if p.id in told]
            data = {"id": event.article_id, "guid": event.guid}
        else:
            article = ArticleQueries(session).by_id(event.article_id)
            if article is None:
                return []
            chosen = [p for p in partners if matches(p.categories or [], p.language, article)]
            data = article_data(article, base_url)
        if not chosen:
            return []
        store.ensure_payload(
            session, event.event_id, lambda: push_body(event.type, timestamp, data), now=now
        )
        rows = [
            PartnerDeliveryRow(
                partner_id=p.id, event_id=event.event_id, article_id=event.article_id,
                event_type=event.type, webhook_id=new_webhook_id(), status=PENDING,
                attempts=0, next_attempt_at=now, enqueued_at=now, created_at=now,
            )
            for p in chosen
        ]
        session.add_all(rows)
        session.commit()
        return [r.id for r in rows]


def _active_partners(session: Session) -> list[PartnerRow]:
    return list(session.scalars(select(PartnerRow).where(PartnerRow.active.is_(True))))


def on_article_event(event: ArticleEvent, *, container: Container) -> None:
    """Event handler: write delivery rows for matching partners, then enqueue their pushes."""
    enqueue(container, fan_out(container, event))


def enqueue(container: Container, ids: list[int]) -> int:
    """Hand push tasks to the broker; on a broker failure the beat sweep picks the rows up later."""
    sent = 0
    for delivery_id in ids:
        if not container.tasks.submit(PushDelivery(delivery_id)):
            break
        sent += 1
    return sent


def sweep(container: Container, *, now: datetime | None = None) -> int:
    """Enqueue pushes of due deliveries not enqueued recently (beat runs this every few seconds)."""
    now = now or container.now()
    requeue = timedelta(seconds=max(60.0, container.settings.partner_timeout_s * 4))
    with container.session_factory() as session:
        ids = store.due_ids(session, now=now, limit=SWEEP_BATCH, enqueued_before=now - requeue)
        store.mark_enqueued(session, ids, now=now)
        session.commit()
    return enqueue(container, ids)


def deliver_due(container: Container, *, now: datetime | None = None, limit: int = 10_000) -> int:
    """Attempt every due delivery in this process, oldest event first; returns attempts made."""
    now = now or container.now()
    seen: set[int] = set()
    made = 0
    while True:
        with container.session_factory() as session:
            ids = [i for i in store.due_ids(session, now=now, limit=limit) if i not in seen]
        # A delivered row releases the next update of its article: later passes pick it up.
        if not ids:
            return made
        for delivery_id in ids:
            seen.add(delivery_id)
            result = attempt(container, delivery_id, now=now, enqueue_next=False)
            made += result in {"delivered", "failed", "dead"}


# --- one attempt -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Claimed:
    delivery_id: int
    partner_id: int
    partner_name: str
    url: str
    webhook_id: str
    payload: str
    attempts: int
    secrets: list[str]
    failing_since: datetime | None


def attempt(
    container: Container, delivery_id: int, *, now: datetime | None = None, enqueue_next: bool = True
) -> str:
    """Make one attempt if the delivery is due and first in line; returns what happened.

    Results: delivered, failed (retry scheduled), dead, or a reason nothing was sent: gone,
    not-due, waiting (an older delivery of the article is pending), paused (partner disabled),
    throttled (partner rate limit), busy (another worker holds it).
    """
    now = now or container.now()
    settings = container.settings
    claimed = _claim(container, delivery_id, now)
    if isinstance(claimed, str):
        return claimed
    try:
        target = check_url(claimed.url, allow_private=settings.partner_allow_private)
    except PartnerUrlRefused as exc:
        return _record(container, claimed, now, None, str(exc), 0.0, enqueue_next)
    # The signature's timestamp is the wall clock: receivers check it against theirs.
    headers = signed_headers(claimed.webhook_id, datetime.now(UTC), claimed.payload, claimed.secrets)
    try:
        response = client_for(settings.partner_timeout_s).post(
            target, claimed.payload.encode("utf-8"), headers
        )
    except httpx.TimeoutException as exc:
        error = f"timeout after {settings.partner_timeout_s:g} s ({type(exc).__name__})"
        return _record(container, claimed, now, None, error, 0.0, enqueue_next)
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
        return _record(container, claimed, now, None, error, 0.0, enqueue_next)
    return _record(container, claimed, now, response, None, response.elapsed_s, enqueue_next)


def _claim(container: Container, delivery_id: int, now: datetime) -> _Claimed | str:
    lease = timedelta(seconds=container.settings.partner_timeout_s + 30)
    with container.session_factory() as session:
        # Fast path: one conditional UPDATE takes the lease; its conditions are the whole check.
        got = store.claim(session, delivery_id, now=now, lease=lease)
        partner = store.partner_for_send(session, got.partner_id) if got else None
        if got is None or partner is None:
            session.rollback()
            return _why_not(session, delivery_id, now)
        limit = partner.rate_limit_per_minute
        if limit and store.attempts_since(session, partner.id, now - timedelta(minutes=1)) >= limit:
            session.rollback()
            store.postpone(session, delivery_id, now + timedelta(seconds=60.0 / limit))
            session.commit()
            return "throttled"
        body = store.payload(session, got.event_id)
        session.commit()
        return _Claimed(
            delivery_id=delivery_id, partner_id=partner.id, partner_name=partner.name,
            url=partner.url, webhook_id=got.webhook_id, payload=body, attempts=got.attempts,
            secrets=signing_secrets(
                partner.secret, partner.previous_secret, partner.previous_secret_until, now=now
            ),
            failing_since=partner.failing_since,
        )


def _why_not(session: Session, delivery_id: int, now: datetime) -> str:
    row = session.get(PartnerDeliveryRow, delivery_id)
    if row is None or row.status != PENDING:
        return "gone"
    partner = session.get(PartnerRow, row.partner_id)
    if row.next_attempt_at is None or row.next_attempt_at > now:
        return "not-due"
    if row.locked_until is not None and row.locked_until >= now:
        return "busy"
    # Paused or waiting: the sweep will enqueue it again once it can go.
    row.enqueued_at = None
    session.commit()
    return "paused" if partner is None or not partner.active else "waiting"


def _describe(response: PushResponse) -> str | None:
    code = response.status_code
    if 200 <= code < 300:
        return None
    if 300 <= code < 400:
        return f"HTTP {code}: redirects are not followed"
    return f"HTTP {code}: {response.body_start[:200]}".rstrip(": ")


def _record(
    container: Container, claimed: _Claimed, now: datetime, response: PushResponse | None,
    error: str | None, elapsed_s: float, enqueue_next: bool,
) -> str:
    code = response.status_code if response is not None else None
    if response is not None:
        error = _describe(response)
    successor: int | None = None
    with container.session_factory() as session:
        session.add(PartnerAttemptRow(
            delivery_id=claimed.delivery_id, partner_id=claimed.partner_id, attempted_at=now,
            status_code=code, error=error, duration_ms=int(elapsed_s * 1000),
        ))
        result = store.Result(status_code=code, error=error)
        if code is not None and 200 <= code < 300:
            outcome = "delivered"
            store.finish(session, claimed.delivery_id, result, status=DELIVERED, now=now)
            if claimed.failing_since is not None:
                store.update_partner(session, claimed.partner_id, failing_since=None)
        elif code == 410:
            outcome = "dead"
            store.finish(session, claimed.delivery_id, result, status=DEAD, now=now)
            _disable(session, claimed, now, f"endpoint answered 410 Gone on {now.isoformat()}")
        else:
            outcome = _failed(container, session, claimed, result, response, now)
        if outcome in {"delivered", "dead"}:
            successor = store.release_next(session, claimed.delivery_id, now=now)
        session.commit()
    if successor is not None and enqueue_next:
        enqueue(container, [successor])
    return outcome


def _failed(
    container: Container, session: Session, claimed: _Claimed, result: store.Result,
    response: PushResponse | None, now: datetime,
) -> str:
    failing_since = claimed.failing_since or now
    if claimed.failing_since is None:
        store.update_partner(session, claimed.partner_id, failing_since=now)
    days = container.settings.partner_disable_after_days
    if now - failing_since >= timedelta(days=days):
        _disable(session, claimed, now, f"every push failed since {failing_since.isoformat()} "
                                        f"({days:g} days); last error: {result.error}")
    honoured = None
    if response is not None and response.status_code in (429, 503):
        honoured = schedule.retry_after(response.retry_after, now)
    later = schedule.next_attempt(claimed.attempts, now)
    if later is None:
        store.finish(session, claimed.delivery_id, result, status=DEAD, now=now)
        log.warning("delivery %s to partner %s dead after %s attempts: %s", claimed.delivery_id,
                    claimed.partner_id, claimed.attempts, result.error)
        return "dead"
    store.finish(session, claimed.delivery_id, result, status=PENDING, now=now,
                 next_attempt_at=honoured or later)
    return "failed"


def _disable(session: Session, claimed: _Claimed, now: datetime, reason: str) -> None:
    if store.disable_partner(session, claimed.partner_id, now=now, reason=reason):
        log.warning("partner %s (%s) disabled: %s", claimed.partner_id, claimed.partner_name, reason)
