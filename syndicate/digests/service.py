"""Digest use cases the CLI, the web, beat and the event handlers call: build, dispatch, resend.

`DigestService` holds exactly what they use (the ports, the task queue, the sending engine, the
settings and the clock); bootstrap builds it. Batches reach workers only as `SendBatch` commands.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

from syndicate.digests import subscribers as subs
from syndicate.digests.batch import BatchResult
from syndicate.digests.editions import article_matches, create_edition
from syndicate.digests.fanout import Fanout
from syndicate.digests.ports import DeliveryStore, EditionStore
from syndicate.digests.states import DeliveryState, Frequency, SubscriberStatus
from syndicate.domain.commands import SendBatch
from syndicate.domain.events import ArticleEvent
from syndicate.errors import BrokerUnavailable, ConfigError, InvalidDigestInput, NotFound
from syndicate.services.ports import TaskQueue, Telemetry
from syndicate.settings import Settings

log = logging.getLogger(__name__)

ENQUEUE_CHUNK: Final = 8
ResendMode = Literal["failed-only", "to", "all"]
RESEND_MODES: Final = ("failed-only", "to", "all")


def due_keys(now: datetime, *, hour: int, weekday: int, timezone: str) -> dict[Frequency, str]:
    """Dedupe keys of the daily and weekly editions due at `now` in the configured zone."""
    try:
        local = now.astimezone(ZoneInfo(timezone))
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"DIGEST_TIMEZONE {timezone!r} is not a known time zone") from exc
    keys: dict[Frequency, str] = {}
    if local.hour >= hour:
        keys[Frequency.DAILY] = f"daily:{local.date().isoformat()}"
        if local.weekday() == weekday:
            year, week, _ = local.isocalendar()
            keys[Frequency.WEEKLY] = f"weekly:{year}-W{week:02d}"
    return keys


@dataclass
class DigestService:
    """The digest use cases over their ports."""

    deliveries: DeliveryStore
    editions: EditionStore
    uow: subs.UnitOfWorkFactory
    tasks: TaskQueue
    fanout: Fanout
    settings: Settings
    now: Callable[[], datetime]
    telemetry: Telemetry | None = None

    @property
    def lease(self) -> timedelta:
        """How long a `sending` row's lease lasts without a renewal from its sender."""
        return timedelta(seconds=self.settings.mail_lease_seconds)

    def _stale_before(self, now: datetime) -> datetime:
        # A batch handed to a broker that still has its queue may wait this long before we
        # assume it lost (Redis's own redelivery of unacknowledged tasks takes an hour).
        return now - timedelta(seconds=self.settings.mail_enqueue_timeout_seconds)

    def _epoch(self) -> str | None:
        try:
            return self.tasks.epoch()
        except BrokerUnavailable as exc:
            log.warning("broker unreachable (%s); batches wait in the database for the sweep", exc)
            return None

    def enqueue_edition(self, edition_id: int, *, epoch: str | None = None) -> int:
        """Cut the edition's due rows into batches and submit one SendBatch each; returns how many.

        A refused submit is not retried here: its rows are marked never enqueued, and the sweep
        submits them again once the broker is back.
        """
        total, last, now = 0, 0, self.now()
        epoch = epoch or self._epoch()
        while True:
            # A few ranges per transaction: workers start on the first batches while the rest are cut.
            ranges = self.deliveries.cut_batches(edition_id, size=self.settings.mail_batch_size,
                                                 now=now, stale_before=self._stale_before(now),
                                                 epoch=epoch, after=last, max_ranges=ENQUEUE_CHUNK)
            self._submit(edition_id, ranges)
            total += len(ranges)
            if len(ranges) < ENQUEUE_CHUNK:
                return total
            last = ranges[-1][1]

    def _enqueue_new(self, edition_id: int, *, epoch: str | None, at: datetime) -> int:
        """Submit the batches of an edition built with `epoch` at `at` (its rows stored already
        marked enqueued: they are cut by one read, not marked by a second write each); returns how
        many. An edition found by its dedupe key instead, or built while the broker was away,
        goes through `enqueue_edition`.

        Call it as soon as the edition is stored: until then a crash leaves its rows marked as
        handed over, and the sweep takes them again only after MAIL_ENQUEUE_TIMEOUT_SECONDS.
        """
        ranges = (self.deliveries.fresh_batches(edition_id, size=self.settings.mail_batch_size,
                                                epoch=epoch, at=at) if epoch is not None else [])
        if not ranges:
            return self.enqueue_edition(edition_id, epoch=epoch)
        self._submit(edition_id, ranges)
        return len(ranges)

    def _submit(self, edition_id: int, ranges: list[tuple[int, int]]) -> None:
        """One SendBatch per range, marked enqueued by the caller; a range the broker refuses is
        marked never enqueued, for the sweep."""
        for lo, hi in ranges:
            if not self.tasks.submit(SendBatch(edition_id, lo, hi)):
                self.deliveries.forget_enqueued(edition_id, lo, hi)

    def send_batch(self, edition_id: int, lo: int, hi: int) -> BatchResult:
        """Send the due queued rows of an edition with ids in [lo, hi]; safe to run twice."""
        return self.fanout.send_batch(edition_id, lo, hi)

    def send_now(self, list_slug: str, *, since: datetime | None = None) -> int | None:
        """Build an edition of the list now and fan it out; None when there is nothing to send."""
        lst = subs.list_by_slug(self.uow, list_slug)
        if lst.archived:
            raise InvalidDigestInput(f"list {list_slug!r} is archived; bring it back before sending")
        now, epoch = self.now(), self._epoch()
        edition_id = create_edition(self.editions, lst, frequency=lst.frequency, now=now,
                                    since=since, epoch=epoch)
        if edition_id is not None:
            self._enqueue_new(edition_id, epoch=epoch, at=now)
        return edition_id

    def sweep(self) -> int:
        """Beat: take over rows of dead senders and enqueue every due row (4xx retries, batches a
        broker lost); returns how many batches were submitted."""
        now = self.now()
        released = self.deliveries.release_stale(now=now, lease=self.lease)
        if released:
            log.warning("took over %s deliveries whose sender stopped renewing its lease", released)
            if self.telemetry is not None:
                self.telemetry.count("lease_takeovers", released)
        epoch = self._epoch()
        editions = self.deliveries.editions_with_due_rows(
            now=now, stale_before=self._stale_before(now), epoch=epoch)
        return sum(self.enqueue_edition(e, epoch=epoch) for e in editions)

    def build_due(self) -> list[int]:
        """Beat: build and fan out every daily/weekly edition due now (once per day/week per list)."""
        s = self.settings
        keys = due_keys(self.now(), hour=s.digest_hour, weekday=s.digest_weekday,
                        timezone=s.digest_timezone)
        built: list[int] = []
        epoch = functools.cache(self._epoch)  # asked of the broker once, and only to build
        for lst in subs.sending_lists(self.uow):
            for frequency, key in keys.items():
                if lst.frequency != frequency and not lst.custom_frequency:
                    continue
                if self.editions.find(lst.id, key) is not None:
                    continue
                now = self.now()
                edition_id = create_edition(self.editions, lst, frequency=frequency, now=now,
                                            dedupe_key=key, epoch=epoch())
                if edition_id is not None:
                    # At once: its rows are recorded as handed over (see EditionStore.add).
                    self._enqueue_new(edition_id, epoch=epoch(), at=now)
                    built.append(edition_id)
        return built

    def instant_editions(self, article_id: int) -> list[int]:
        """One instant edition per matching list for the article (idempotent through its dedupe key)."""
        article = self.editions.article(article_id)
        if article is None:
            return []
        built: list[int] = []
        epoch = functools.cache(self._epoch)  # asked of the broker once, and only to build
        for lst in subs.sending_lists(self.uow):
            if lst.frequency != Frequency.INSTANT and not lst.custom_frequency:
                continue
            if not article_matches(lst, article):
                continue
            now = self.now()
            edition_id = create_edition(self.editions, lst, frequency=Frequency.INSTANT, now=now,
                                        article_ids=[article.id], dedupe_key=f"instant:{article.id}",
                                        epoch=epoch())
            if edition_id is not None:
                # At once: its rows are recorded as handed over (see EditionStore.add).
                self._enqueue_new(edition_id, epoch=epoch(), at=now)
                built.append(edition_id)
        return built

    def resend(self, edition_id: int, *, mode: str, email: str | None = None) -> int:
        """Queue again exactly the rows named: 'failed-only', 'to' (one address) or 'all'.

        Raises NotFound for an unknown edition and InvalidDigestInput for a mode not among those
        or an address with no delivery in the edition.
        """
        if mode not in RESEND_MODES:
            raise InvalidDigestInput(f"mode {mode!r} is not one of {', '.join(RESEND_MODES)}")
        if not self.editions.exists(edition_id):
            raise NotFound("edition", edition_id)
        subscriber_id = None
        if mode == "to":
            with self.uow() as work:
                found = work.subscribers.by_email(email or "")
            if found is None:
                raise InvalidDigestInput(f"--to: no subscriber has the address {email!r}")
            if found.status not in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
                raise InvalidDigestInput(
                    f"--to: {found.email} is {found.status}; a reader who left or was suppressed is "
                    "never mailed again")
            subscriber_id = found.id
        states = [DeliveryState.FAILED] if mode == "failed-only" else None
        count = self.deliveries.requeue(edition_id, states=states, subscriber_id=subscriber_id,
                                        now=self.now())
        if mode == "to" and count == 0:
            raise InvalidDigestInput(f"--to: edition {edition_id} has no delivery to {email!r}")
        if count:
            self.enqueue_edition(edition_id)
        return count

    def edition_counts(self, edition_id: int) -> dict[DeliveryState, int]:
        """Deliveries of an edition per state, counted now."""
        return self.deliveries.counts(edition_id)

    def wait_until_final(
        self, edition_id: int, *, on_progress: Callable[[dict[DeliveryState, int]], None],
        poll_s: float = 1.0, sleep: Callable[[float], None] = time.sleep,
    ) -> dict[DeliveryState, int]:
        """Poll the ledger until no row is queued or sending; returns the final counts."""
        while True:
            counts = self.edition_counts(edition_id)
            on_progress(counts)
            if counts[DeliveryState.QUEUED] == 0 and counts[DeliveryState.SENDING] == 0:
                return counts
            sleep(poll_s)


def on_article_published(event: ArticleEvent, *, digests: DigestService) -> None:
    """Handler: one instant edition per matching list (idempotent through its dedupe key)."""
    digests.instant_editions(event.article_id)
