"""Digest use cases the CLI, the web, beat and the event handlers call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from sqlalchemy import select

from syndicate.digests import ledger
from syndicate.digests.editions import (
    article_matches,
    create_edition,
    edition_and_list,
    find_edition,
)
from syndicate.digests.states import FAILED
from syndicate.digests.subscribers import all_lists, list_by_slug
from syndicate.domain.commands import SendBatch
from syndicate.domain.events import ArticleEvent
from syndicate.errors import ConfigError, InvalidDigestInput, NotFound
from syndicate.storage.articles import ArticleQueries
from syndicate.storage.digest_models import EditionRow, MailingListRow, SubscriberRow

if TYPE_CHECKING:
    from syndicate.bootstrap import Container

log = logging.getLogger(__name__)

ENQUEUE_CHUNK: Final = 8


def lease(container: Container) -> timedelta:
    """How long an enqueued or claimed row may sit before the sweep takes it up again."""
    return timedelta(seconds=container.settings.mail_lease_seconds)


def enqueue_edition(container: Container, edition_id: int) -> int:
    """Cut the edition's due rows into batches and hand each to the broker; returns how many.

    A broker failure is logged, not raised: the rows stay queued and the sweep retries them.
    """
    total, last, now = 0, 0, container.now()
    while True:
        # A few ranges per transaction: workers start on the first batches while the rest are cut.
        with container.session_factory() as session:
            ranges = ledger.cut_batches(session, edition_id, size=container.settings.mail_batch_size,
                                        now=now, lease=lease(container), after=last,
                                        max_ranges=ENQUEUE_CHUNK)
            session.commit()
        for lo, hi in ranges:
            container.tasks.submit(SendBatch(edition_id, lo, hi))
        total += len(ranges)
        if len(ranges) < ENQUEUE_CHUNK:
            return total
        last = ranges[-1][1]


def send_now(container: Container, list_slug: str, *, since: datetime | None = None) -> int | None:
    """Build an edition of the list now and fan it out; None when there is nothing to send."""
    with container.session_factory() as session:
        lst = list_by_slug(session, list_slug)
        edition = create_edition(session, lst, frequency=lst.frequency, now=container.now(),
                                 since=since)
        session.commit()
        edition_id = edition.id if edition else None
    if edition_id is not None:
        enqueue_edition(container, edition_id)
    return edition_id


def sweep(container: Container) -> int:
    """Beat: queue rows of dead workers again and enqueue every due row (4xx retries, lost tasks)."""
    now = container.now()
    with container.session_factory() as session:
        released = ledger.release_stale(session, now=now, lease=lease(container))
        session.commit()
        editions = ledger.editions_with_due_rows(session, now=now, lease=lease(container))
    if released:
        log.warning("released %s deliveries stuck in 'sending'", released)
    return sum(enqueue_edition(container, e) for e in editions)


def due_keys(now: datetime, *, hour: int, weekday: int, timezone: str) -> dict[str, str]:
    """Dedupe keys of the daily and weekly editions due at `now` in the configured zone."""
    try:
        local = now.astimezone(ZoneInfo(timezone))
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"DIGEST_TIMEZONE {timezone!r} is not a known time zone") from exc
    keys: dict[str, str] = {}
    if local.hour >= hour:
        keys["daily"] = f"daily:{local.date().isoformat()}"
        if local.weekday() == weekday:
            year, week, _ = local.isocalendar()
            keys["weekly"] = f"weekly:{year}-W{week:02d}"
    return keys


def build_due(container: Container) -> list[int]:
    """Beat: build and fan out every daily/weekly edition due now (once per day/week per list)."""
    s = container.settings
    keys = due_keys(container.now(), hour=s.digest_hour, weekday=s.digest_weekday,
                    timezone=s.digest_timezone)
    built: list[int] = []
    with container.session_factory() as session:
        for lst in all_lists(session):
            for frequency, key in keys.items():
                if lst.frequency != frequency and not lst.custom_frequency:
                    continue
                if find_edition(session, lst, key) is not None:
                    continue
                edition = create_edition(session, lst, frequency=frequency, now=container.now(),
                                         dedupe_key=key)
                session.commit()
                if edition is not None:
                    built.append(edition.id)
    for edition_id in built:
        enqueue_edition(container, edition_id)
    return built


def on_article_published(event: ArticleEvent, *, container: Container) -> None:
    """Handler: one instant edition per matching list (idempotent through its dedupe key)."""
    built: list[int] = []
    with container.session_factory() as session:
        article = ArticleQueries(session).by_id(event.article_id)
        if article is None:
            return
        for lst in all_lists(session):
            if lst.frequency != "instant" and not lst.custom_frequency:
                continue
            if not article_matches(lst, article):
                continue
            edition = create_edition(session, lst, frequency="instant", now=container.now(),
                                     article_ids=[article.id], dedupe_key=f"instant:{article.id}")
            session.commit()
            if edition is not None:
                built.append(edition.id)
    for edition_id in built:
        enqueue_edition(container, edition_id)


def resend(container: Container, edition_id: int, *, mode: str, email: str | None = None) -> int:
    """Queue again exactly the rows named: 'failed-only', 'to' (one address) or 'all'."""
    with container.session_factory() as session:
        if session.get(EditionRow, edition_id) is None:
            raise NotFound("edition", edition_id)
        subscriber_id = None
        if mode == "to":
            subscriber_id = session.scalar(select(SubscriberRow.id).where(SubscriberRow.email == email))
            if subscriber_id is None:
                raise InvalidDigestInput(f"--to: no subscriber has the address {email!r}")
        states = [FAILED] if mode == "failed-only" else None
        count = ledger.requeue(session, edition_id, states=states, subscriber_id=subscriber_id,
                               now=container.now())
        if mode == "to" and count == 0:
            raise InvalidDigestInput(f"--to: edition {edition_id} has no delivery to {email!r}")
        session.commit()
    if count:
        enqueue_edition(container, edition_id)
    return count


def edition_counts(container: Container, edition_id: int) -> dict[str, int]:
    """Deliveries of an edition per state."""
    with container.session_factory() as session:
        return ledger.counts(session, edition_id)


def wait_until_final(
    container: Container, edition_id: int, *, on_progress: Callable[[dict[str, int]], None],
    poll_s: float = 1.0, sleep: Callable[[float], None] | None = None,
) -> dict[str, int]:
    """Poll the ledger until no row is queued or sending; returns the final counts."""
    import time

    pause = sleep or time.sleep
    while True:
        counts = edition_counts(container, edition_id)
        on_progress(counts)
        if counts["queued"] == 0 and counts["sending"] == 0:
            return counts
        pause(poll_s)


def list_of_edition(container: Container, edition_id: int) -> MailingListRow:
    """The list an edition belongs to."""
    with container.session_factory() as session:
        return edition_and_list(session, edition_id)[1]
