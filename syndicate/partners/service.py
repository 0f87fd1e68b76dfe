"""Partner pushes: fan an event out to matching partners, push batches of deliveries, sweep retries.

Every delivery is one (event, partner) pair with a `webhook-id` and a body fixed when it is
created, so a retry sends the very same signed message. Waiting happens in storage
(`next_attempt_at`), swept by beat; a push task runs one attempt of each delivery of its batch,
all of them in flight together (`batch.BatchRun`).
"""

from __future__ import annotations

import concurrent.futures
import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from syndicate.domain.articles import Article
from syndicate.domain.commands import PushDeliveries
from syndicate.domain.events import (
    ARTICLE_DELETED,
    ARTICLE_EMBARGOED,
    ARTICLE_PUBLISHED,
    ArticleEvent,
)
from syndicate.errors import NotFound
from syndicate.partners.batch import BatchRun
from syndicate.partners.content import article_data, matches, push_body
from syndicate.partners.ports import AttemptOutcome, DeliveryStatus, PushClient, PushStore
from syndicate.partners.secrets import new_webhook_id
from syndicate.services.ports import TaskQueue

SWEEP_BATCH = 500
BATCH_SIZE = 50

log = logging.getLogger("syndicate.partners")


def enqueue(tasks: TaskQueue, ids: Sequence[int], *, batch_size: int = BATCH_SIZE) -> int:
    """Submit one push task per `batch_size` deliveries until the broker refuses; returns how many
    deliveries were handed over (the sweep picks up the rest later)."""
    sent = 0
    for start in range(0, len(ids), max(1, batch_size)):
        chunk = tuple(ids[start:start + max(1, batch_size)])
        if not tasks.submit(PushDeliveries(chunk)):
            break
        sent += len(chunk)
    return sent


class PartnerPushes:
    """The pushes of one process: built once by bootstrap with what they use."""

    def __init__(
        self, store: PushStore, client: PushClient, tasks: TaskQueue, *, now: Callable[[], datetime],
        base_url: str, timeout_s: float, disable_after_days: float,
        rng: random.Random | None = None, batch_size: int = BATCH_SIZE, lease_s: float = 30.0,
    ) -> None:
        self.store = store
        self.client = client
        self.tasks = tasks
        self.now = now
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.disable_after = timedelta(days=disable_after_days)
        self.rng = rng
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_s)

    # --- fan-out ---------------------------------------------------------------------------------

    def fan_out(self, event: ArticleEvent) -> list[int]:
        """Create one delivery per matching active partner for the event; returns the new ids.

        Idempotent: partners that already have a delivery of this event are skipped, so a re-run
        of the handler (at-least-once) creates nothing twice. An `article.deleted` goes only to
        partners that were sent something about the article; an `article.embargoed` (a scheduled
        article, with `embargo_until`) only to partners that opted in to embargoes, and only
        while the article is still scheduled.
        """
        now = self.now()
        if event.type == ARTICLE_PUBLISHED:
            # The release supersedes an embargo notice a partner has not received yet.
            self.store.supersede_embargoes(event.article_id)
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
            if event.type == ARTICLE_EMBARGOED:
                if not article.is_published or article.published_at <= now:
                    return []  # released or cancelled since: nothing to tell ahead of time
                partners = [p for p in partners if p.embargoed]
            chosen = [p for p in partners if matches(p.categories, p.language, article)]
            data = article_data(article, self.base_url)
            if event.type == ARTICLE_EMBARGOED:
                data["embargo_until"] = article.published_at.isoformat()
        if not chosen:
            return []
        timestamp = self.store.event_time(event.event_id) or now
        body = push_body(event.type, timestamp, data)
        webhook_ids = {p.id: new_webhook_id() for p in chosen}
        return self.store.add_deliveries(event, body, webhook_ids, now=now, enqueued=True)

    def enqueue(self, ids: Sequence[int]) -> int:
        """Submit push tasks for the deliveries (see `enqueue`); returns how many the broker took."""
        return enqueue(self.tasks, ids, batch_size=self.batch_size)

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

    def push(self, delivery_ids: Sequence[int], *, now: datetime | None = None) -> dict[int, AttemptOutcome]:
        """Attempt each due, first-in-line delivery among `delivery_ids` once, all in flight
        together, and the later events they release; returns each delivery's outcome once every
        attempt made is recorded."""
        run = self._run(now)
        return self.client.submit(lambda: run.run(list(delivery_ids))).result()

    def push_task(self, delivery_ids: Sequence[int]) -> dict[str, int]:
        """What a push task runs: the batch as in `push`, returning as soon as every push of it
        has one of the process's `PARTNER_CONCURRENCY` slots; returns outcome counts so far
        (`in-flight` counts the pushes still going on).

        The pushes go on in this process and record their outcomes when they end (their leases
        renewed meanwhile; if the process dies they are taken over after one lease). Waiting for
        slots is the back-pressure: a process whose slots are all taken accepts no new batch, and
        batches of few partners each still fill the slots, several at once.
        """
        run = self._run(None)
        future = self.client.submit(lambda: run.run(list(delivery_ids)))
        future.add_done_callback(_log_failure)
        run.started.wait()
        outcomes = future.result() if future.done() and future.exception() is None else dict(run.outcomes)
        counts: dict[str, int] = {}
        for outcome in outcomes.values():
            counts[outcome.value] = counts.get(outcome.value, 0) + 1
        missing = len(set(delivery_ids) - set(outcomes))
        if missing:
            counts["in-flight"] = missing
        return counts

    def _run(self, now: datetime | None) -> BatchRun:
        clock = self.now if now is None else (lambda: now)
        return BatchRun(self.store, self.client, clock=clock, lease=self.lease,
                        disable_after=self.disable_after, rng=self.rng)

    def attempt(self, delivery_id: int, *, now: datetime | None = None) -> AttemptOutcome:
        """Make one attempt if the delivery is due and first in line (and push what it releases);
        returns what happened to it."""
        return self.push([delivery_id], now=now)[delivery_id]

    def deliver_due(self, *, now: datetime | None = None, limit: int = 10_000) -> int:
        """Attempt every due delivery in this process, oldest event first; returns attempts made."""
        now = now or self.now()
        seen: set[int] = set()
        made = 0
        while True:
            ids = [i for i in self.store.due(now=now, limit=limit) if i not in seen]
            if not ids:
                return made
            seen.update(ids)
            outcomes = self.push(ids, now=now)
            seen.update(outcomes)
            made += sum(o.attempted for o in outcomes.values())


def _log_failure(future: concurrent.futures.Future[dict[int, AttemptOutcome]]) -> None:
    """A batch that ended in an error after its task returned: say so (its leases run out and
    the sweep takes its deliveries over)."""
    exc = future.exception()
    if exc is not None:
        log.error("a partner push batch stopped: %s: %s", type(exc).__name__, exc)


def on_article_event(event: ArticleEvent, *, partner_pushes: PartnerPushes) -> None:
    """Event handler: write deliveries for matching partners, then enqueue their pushes."""
    partner_pushes.enqueue(partner_pushes.fan_out(event))
