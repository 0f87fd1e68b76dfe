"""Partner pushes: fan an event out to matching partners, attempt a delivery, sweep due retries.

Every delivery is one (event, partner) pair with a `webhook-id` and a body fixed when it is
created, so a retry sends the very same signed message. Waiting happens in storage
(`next_attempt_at`), swept by beat; a push task only ever runs one attempt.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from syndicate.domain.articles import Article
from syndicate.domain.commands import PushDelivery
from syndicate.domain.events import ARTICLE_DELETED, ArticleEvent
from syndicate.errors import NotFound
from syndicate.partners.content import article_data, matches, push_body
from syndicate.partners.outcomes import judge
from syndicate.partners.ports import (
    AttemptOutcome,
    DeliveryStatus,
    PushClient,
    PushStore,
    Throttled,
)
from syndicate.partners.secrets import new_webhook_id, signing_secrets
from syndicate.partners.signing import signed_headers
from syndicate.services.ports import TaskQueue

SWEEP_BATCH = 500

log = logging.getLogger("syndicate.partners")


def enqueue(tasks: TaskQueue, ids: Sequence[int]) -> int:
    """Submit one push per delivery until the broker refuses; the sweep picks up the rest later."""
    sent = 0
    for delivery_id in ids:
        if not tasks.submit(PushDelivery(delivery_id)):
            break
        sent += 1
    return sent


class PartnerPushes:
    """The pushes of one process: built once by bootstrap with what they use."""

    def __init__(
        self, store: PushStore, client: PushClient, tasks: TaskQueue, *, now: Callable[[], datetime],
        base_url: str, timeout_s: float, disable_after_days: float,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.tasks = tasks
        self.now = now
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.disable_after = timedelta(days=disable_after_days)
        self.rng = rng

    # --- fan-out ---------------------------------------------------------------------------------

    def fan_out(self, event: ArticleEvent) -> list[int]:
        """Create one delivery per matching active partner for the event; returns the new ids.

        Idempotent: partners that already have a delivery of this event are skipped, so a re-run
        of the handler (at-least-once) creates nothing twice. An `article.deleted` goes only to
        partners that were sent something about the article.
        """
        now = self.now()
        done = self.store.partners_with_delivery_of(event.event_id)
        partners = [p for p in self.store.active_partners() if p.id not in done]
        if not partners:
            return []
        data: dict[str, Any]
        if event.type == ARTICLE_DELETED:
            told = self.store.partners_told_about(event.article_id)
            chosen = [p for p in partners if p.id in told]
            data = {"id": event.article_id, "guid": event.guid}
        else:
            article = self.store.article(event.article_id)
            if article is None:
                return []
            chosen = [p for p in partners if matches(p.categories, p.language, article)]
            data = article_data(article, self.base_url)
        if not chosen:
            return []
        timestamp = self.store.event_time(event.event_id) or now
        body = push_body(event.type, timestamp, data)
        webhook_ids = {p.id: new_webhook_id() for p in chosen}
        return self.store.add_deliveries(event, body, webhook_ids, now=now, enqueued=True)

    def enqueue(self, ids: Sequence[int]) -> int:
        """Submit a push for each delivery (see `enqueue`); returns how many the broker took."""
        return enqueue(self.tasks, ids)

    def article(self, article_id: int) -> Article | None:
        """The article, published or not, or None (what a resend of it would push)."""
        return self.store.article(article_id)

    def requeue(self, partner_id: int, *, article_id: int | None = None, failed: bool = False) -> list[int]:
        """Make the partner's dead deliveries (`failed`), or those of one article, due again.

        They keep their webhook-id and body. An article the partner never got gets one new
        delivery of the article's latest event; NotFound when the article has none.
        """
        now = self.now()
        status = DeliveryStatus.DEAD if failed else None
        ids = self.store.requeue(partner_id, now=now, status=status,
                                 article_id=None if failed else article_id)
        if ids or failed or article_id is None:
            return ids
        article = self.store.article(article_id)
        latest = self.store.latest_event(article_id)
        if article is None or latest is None:
            raise NotFound("article", article_id)
        timestamp = self.store.event_time(latest.event_id) or now
        body = push_body(latest.type, timestamp, article_data(article, self.base_url))
        return self.store.add_deliveries(
            latest, body, {partner_id: new_webhook_id()}, now=now, enqueued=False
        )

    def sweep(self, *, now: datetime | None = None) -> int:
        """Enqueue pushes of due deliveries not enqueued recently (beat runs this every few seconds)."""
        now = now or self.now()
        # A push handed to the broker this recently may still be waiting in its queue.
        recent = timedelta(seconds=max(60.0, self.timeout_s * 4))
        ids = self.store.take_due(now=now, limit=SWEEP_BATCH, enqueued_before=now - recent)
        return self.enqueue(ids)

    # --- attempts --------------------------------------------------------------------------------

    def attempt(
        self, delivery_id: int, *, now: datetime | None = None, enqueue_next: bool = True
    ) -> AttemptOutcome:
        """Make one attempt if the delivery is due and first in line; returns what happened."""
        now = now or self.now()
        claim = self.store.claim(
            delivery_id, now=now, lease_until=now + timedelta(seconds=self.timeout_s + 30)
        )
        if claim is None:
            return self._why_not(delivery_id, now)
        if isinstance(claim, Throttled):
            self.store.postpone(delivery_id, now + timedelta(seconds=60.0 / claim.per_minute))
            return AttemptOutcome.THROTTLED
        keys = claim.keys
        secrets = signing_secrets(keys.secret, keys.previous_secret, keys.previous_until, now=now)
        # The signature's timestamp is the wall clock: receivers check it against theirs.
        headers = signed_headers(claim.webhook_id, datetime.now(UTC), claim.body, secrets)
        reply = self.client.push(claim.url, claim.body.encode("utf-8"), headers)
        outcome, record = judge(claim, reply, now, disable_after=self.disable_after, rng=self.rng)
        recorded = self.store.record(record)
        if outcome in (AttemptOutcome.FAILED, AttemptOutcome.DEAD) and (
                record.status_code != 410 or recorded.disabled):
            # One line per failed push, saying what happens next: a retry, the end of the
            # delivery, or the partner disabled. (A 410 for a partner disabled already: no line.)
            error = record.error or record.status_code
            if recorded.disabled:
                what = (f"delivery {delivery_id} to partner {claim.partner_id}, attempt {claim.attempts}: "
                        f"{error}; partner {claim.partner_id} ({claim.partner_name}) disabled: "
                        f"{record.disable_reason}")
            elif outcome is AttemptOutcome.DEAD:
                what = (f"delivery {delivery_id} to partner {claim.partner_id} dead after "
                        f"{claim.attempts} attempts: {error}")
            else:
                retry = record.next_attempt_at.isoformat() if record.next_attempt_at else "-"
                what = (f"delivery {delivery_id} to partner {claim.partner_id}, attempt {claim.attempts}: "
                        f"{error}; retry at {retry}")
            log.warning("partner push failed: %s", what,
                        extra={"partner_id": claim.partner_id, "delivery_id": delivery_id,
                               "attempt": claim.attempts, "status_code": record.status_code,
                               "outcome": str(outcome), "partner_disabled": recorded.disabled})
        if recorded.successor is not None and enqueue_next:
            self.enqueue([recorded.successor])
        return outcome

    def _why_not(self, delivery_id: int, now: datetime) -> AttemptOutcome:
        state = self.store.state(delivery_id)
        if state is None or state.status is not DeliveryStatus.PENDING:
            return AttemptOutcome.GONE
        if state.next_attempt_at is None or state.next_attempt_at > now:
            return AttemptOutcome.NOT_DUE
        if state.locked_until is not None and state.locked_until >= now:
            return AttemptOutcome.BUSY
        # Paused or waiting: the sweep enqueues it again once it can go.
        self.store.forget_enqueued(delivery_id)
        return AttemptOutcome.WAITING if state.partner_active else AttemptOutcome.PAUSED

    def deliver_due(self, *, now: datetime | None = None, limit: int = 10_000) -> int:
        """Attempt every due delivery in this process, oldest event first; returns attempts made."""
        now = now or self.now()
        seen: set[int] = set()
        made = 0
        while True:
            # A delivered one releases the next update of its article: later passes pick it up.
            ids = [i for i in self.store.due(now=now, limit=limit) if i not in seen]
            if not ids:
                return made
            for delivery_id in ids:
                seen.add(delivery_id)
                made += self.attempt(delivery_id, now=now, enqueue_next=False).attempted


def on_article_event(event: ArticleEvent, *, partner_pushes: PartnerPushes) -> None:
    """Event handler: write deliveries for matching partners, then enqueue their pushes."""
    partner_pushes.enqueue(partner_pushes.fan_out(event))
