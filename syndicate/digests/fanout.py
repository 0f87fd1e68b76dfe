"""Sending one batch of an edition: claim rows, fill each recipient into the rendered message,
send it through one connection of the Mailer, and write the outcome of every row to the ledger.

The engine reaches the ledger only through the `DeliveryStore` port (digests/ports.py) and the
mail server only through the `Mailer` (mail/mailer.py): listmonk's manager, store and messenger.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from syndicate.digests.msgids import delivery_message_id
from syndicate.digests.ports import (
    ClaimedDelivery,
    DeliveryStore,
    EditionContent,
    Outcome,
    OutcomeWriter,
)
from syndicate.digests.states import DeliveryState
from syndicate.digests.tokens import MANAGE, Signer, edition_view_url
from syndicate.errors import DatabaseUnavailable
from syndicate.mail.mailer import Mailer, Outgoing
from syndicate.mail.message import MessageTemplate, Recipient, build_template
from syndicate.mail.render import Masthead, render_edition
from syndicate.mail.strings import mail_language, strings_for
from syndicate.mail.transport import CONNECTION_ERRORS, SendResult
from syndicate.services.media import with_available_images
from syndicate.settings import Settings

log = logging.getLogger(__name__)


#: What decides a reader's message: the mail language and the entries (None: the edition's own).
Variant = tuple[str, tuple[int, ...] | None]
#: Rendered variants kept per edition; rows are sent grouped by variant, so each renders once a batch.
MAX_VARIANTS = 256
NOTHING_NEW = "nothing new: every story of this edition was already mailed to this reader"


def variant_of(row: ClaimedDelivery) -> Variant:
    """The variant of a claimed row: readers with equal variants get byte-equal messages
    (but for the per-recipient fields filled into the serialized template)."""
    return mail_language(row.language), row.article_ids


def _mailed(row: ClaimedDelivery) -> bool:
    """True when the row gets a message: its reader still receives the list and has something new."""
    return row.receiving and row.article_ids != ()


def by_variant(rows: list[ClaimedDelivery]) -> list[ClaimedDelivery]:
    """The rows grouped by variant (stable: by id within a variant), so a variant renders once."""
    first: dict[Variant, int] = {}
    for i, row in enumerate(rows):
        first.setdefault(variant_of(row), i)
    return sorted(rows, key=lambda r: first[variant_of(r)])


@dataclass
class EditionMail:
    """An edition ready to send: its content and one serialized template per variant."""

    content: EditionContent
    templates: OrderedDict[Variant, MessageTemplate] = field(default_factory=OrderedDict)

    @property
    def edition_id(self) -> int:
        """The edition's id."""
        return self.content.edition_id

    @property
    def list_id(self) -> int:
        """The id of the edition's list."""
        return self.content.list_id


class TemplateCache:
    """Rendered editions of one process and database (premailer runs once per language).

    Bootstrap builds one per container; an edition's content never changes once built.
    """

    def __init__(self, size: int = 16) -> None:
        self._items: OrderedDict[int, EditionMail] = OrderedDict()
        self._size = size
        self.renders = 0
        self._lock = threading.Lock()  # a batch's connections render each language once

    def edition(self, store: DeliveryStore, edition_id: int) -> EditionMail:
        """The cached edition, loaded from `store` on first use."""
        item = self._items.get(edition_id)
        if item is None:
            item = EditionMail(store.edition_content(edition_id))
            self._items[edition_id] = item
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return item

    def template(self, settings: Settings, item: EditionMail, language: str,
                 article_ids: tuple[int, ...] | None = None) -> MessageTemplate:
        """The serialized message of an edition in a language with these entries (None: the
        edition's articles), rendered on first use."""
        key: Variant = (mail_language(language), article_ids)
        tpl = item.templates.get(key)
        if tpl is None:
            with self._lock:
                tpl = item.templates.get(key)
                if tpl is None:
                    tpl = render_template(settings, item.content, key[0], article_ids)
                    item.templates[key] = tpl
                    while len(item.templates) > MAX_VARIANTS:
                        item.templates.popitem(last=False)
                    self.renders += 1
        return tpl


def render_template(settings: Settings, content: EditionContent, language: str,
                    article_ids: tuple[int, ...] | None = None) -> MessageTemplate:
    """Render (Jinja2 + premailer) and serialize an edition once for one variant."""
    articles = content.articles_of(article_ids)
    rendered = render_edition(list_name=content.list_name, frequency=content.frequency,
                              articles=with_available_images(articles, settings),
                              language=language, base_url=settings.base_url,
                              max_html_bytes=settings.mail_max_html_bytes,
                              masthead=Masthead(settings.site_title, settings.site_logo_url),
                              view_url=edition_view_url(settings.base_url, settings.resolved_secret_key,
                                                        content.edition_id, language))
    return build_template(
        mail_from=settings.mail_from, subject=rendered.subject,
        list_id=f"{content.list_name} <{content.list_slug}.{settings.mail_domain}>",
        text=rendered.text, html_body=rendered.html,
    )


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Delay before the next try after `attempts` temporary failures: base × 5^(attempts-1)."""
    return timedelta(seconds=settings.mail_retry_seconds * 5 ** max(0, attempts - 1))


def recipient_for(settings: Settings, signer: Signer, edition: EditionMail, row: ClaimedDelivery,
                  now: datetime) -> Recipient:
    """The per-recipient fields of one delivery."""
    t = strings_for(row.language)
    token = signer.make(MANAGE, row.subscriber_id, (edition.list_id,), now)
    return Recipient(
        email=row.email,
        message_id=delivery_message_id(settings.resolved_secret_key, settings.mail_domain,
                                       edition.edition_id, row.delivery_id, row.attempts),
        greeting=t["hello_name"].format(name=row.name) if row.name else t["hello"],
        unsubscribe_url=f"{settings.base_url}/unsubscribe/{token}",
        preferences_url=f"{settings.base_url}/preferences/{token}",
    )


def outcome_of(settings: Settings, sent: SendResult, row: ClaimedDelivery, now: datetime) -> Outcome:
    """What the server's reply does to the row: sent, queued again (4xx), bounced or failed."""
    reply = sent.describe()
    if sent.ok:
        return Outcome(row.delivery_id, DeliveryState.SENT, reply)
    if sent.temporary and row.attempts < settings.mail_max_attempts:
        # Retried from the database by the sweep, not by a Celery countdown.
        return Outcome(row.delivery_id, DeliveryState.QUEUED, reply,
                       retry_at=now + backoff(settings, row.attempts))
    if sent.bounce:
        return Outcome(row.delivery_id, DeliveryState.BOUNCED, reply)
    return Outcome(row.delivery_id, DeliveryState.FAILED, reply)


@dataclass
class BatchResult:
    """Outcomes of one batch run, per state."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, state: DeliveryState) -> None:
        """Count one outcome."""
        self.counts[state.value] = self.counts.get(state.value, 0) + 1


@dataclass
class Fanout:
    """The sending engine: one batch of one edition at a time, over `SMTP_CONNECTIONS` connections.

    Invariants (what makes a crash cost at most one duplicate per connection):
    - on each connection, an accepted message is recorded in the ledger before the next one is
      sent on it; the connections share nothing but the queue of the batch's claimed rows;
    - while the database cannot be reached a connection sends nothing more: it waits for the
      database, up to `outage_wait_s`, then stops and leaves its rows to the sweep;
    - a heartbeat renews the lease of the batch's unfinished rows every `lease / 6` seconds, so
      the sweep takes rows over only from a sender that died;
    - a connection that fails (dropped, 421 at connect) releases only its own unsent row and
      reconnects with backoff; the other connections go on.
    """

    store: DeliveryStore
    mailer: Mailer
    cache: TemplateCache
    signer: Signer
    settings: Settings
    now: Callable[[], datetime]
    sleep: Callable[[float], None] = time.sleep
    outage_wait_s: float = 600.0
    reconnects: int = 3

    def _log_if_sent(self, edition_id: int) -> None:
        """One INFO line per edition, from the batch that leaves none of its rows queued or sending.

        Two batches ending at the same moment may both see that and both log it: a rare second line.
        """
        try:
            if self.store.has_pending(edition_id):  # an index probe per batch, a count only at the end
                return
            counts = self.store.counts(edition_id)
        except Exception:  # a log line is never worth failing a batch that was sent
            return
        log.info("edition %s sent: %s", edition_id,
                 " ".join(f"{state}={n}" for state, n in counts.items()),
                 extra={"edition_id": edition_id, **{str(state): n for state, n in counts.items()}})

    def send_batch(self, edition_id: int, lo: int, hi: int) -> BatchResult:
        """Send the due queued rows of an edition with ids in [lo, hi]; safe to run twice.

        Rows claimed but never tried are released to `queued` at once when the database lets us,
        else by the sweep after the lease. Raises the connection error when no connection could
        send anything at all.
        """
        edition = self.cache.edition(self.store, edition_id)
        rows = by_variant(self.store.claim(edition_id, edition.list_id, lo, hi, now=self.now()))
        run = _BatchRun(self, edition, rows)
        if not rows:
            return run.result
        beat = _Heartbeat(self, [r.delivery_id for r in rows], run.done)
        beat.start()
        try:
            run.send_all(min(max(1, self.settings.smtp_connections), len(rows)))
        finally:
            beat.stop()
            # Never tried: released now. A message answered but not recorded (the database stayed
            # away) is not released: the sweep takes it over after the lease, as after a crash.
            left = [r.delivery_id for r in rows
                    if r.delivery_id not in run.done and r.delivery_id not in run.in_flight]
            if left:
                try:
                    self.store.release(left, now=self.now())
                except DatabaseUnavailable:
                    log.warning("edition %s: %s unsent rows left to the sweep (database away)",
                                edition_id, len(left))
        log.debug("edition %s batch %s-%s: %s", edition_id, lo, hi, run.result.counts)
        self._log_if_sent(edition_id)
        if run.errors and not run.done:
            raise run.errors[0]
        return run.result

    def record(self, writer: OutcomeWriter, outcome: Outcome, suppress: int | None) -> None:
        """Write one outcome through `writer`, waiting out a database outage; raises
        DatabaseUnavailable when the database stayed away longer than `outage_wait_s` (the row is
        then left to the sweep)."""
        waited, pause = 0.0, 0.5
        while True:
            try:
                writer.record(outcome, suppress, now=self.now())
                if waited:
                    log.warning("database back after %.0f s; sending resumes", waited)
                return
            except DatabaseUnavailable:
                if waited >= self.outage_wait_s:
                    raise
                if not waited:
                    log.warning("database unreachable; sending stops until it is back")
                self.sleep(pause)
                waited += pause
                pause = min(pause * 2, 5.0)


class _Heartbeat:
    """Renews the lease of a batch's unfinished rows from a thread, every `lease / 6` seconds."""

    def __init__(self, engine: Fanout, ids: list[int], done: set[int]) -> None:
        self.engine = engine
        self.ids = ids
        self.done = done
        self.every = max(0.5, engine.settings.mail_lease_seconds / 6)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="lease-heartbeat", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        while not self.stopped.wait(self.every):
            pending = [i for i in self.ids if i not in self.done]
            if not pending:
                return
            try:
                self.engine.store.heartbeat(pending, now=self.engine.now())
            except Exception as exc:  # a missed renewal only shortens the lease; never stop sending for it
                log.warning("lease renewal failed (%s); retrying in %.0f s", exc, self.every)


class _BatchRun:
    """One batch: its claimed rows in one queue, drained by one thread per connection."""

    def __init__(self, engine: Fanout, edition: EditionMail, rows: list[ClaimedDelivery]) -> None:
        self.engine = engine
        self.edition = edition
        self.todo: queue.SimpleQueue[ClaimedDelivery] = queue.SimpleQueue()
        for row in rows:
            self.todo.put(row)
        self.result = BatchResult()
        self.done: set[int] = set()
        self.in_flight: set[int] = set()  # answered by the server, outcome not recorded
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()  # the database stayed away: every connection stops

    def send_all(self, connections: int) -> None:
        """Drain the queue over `connections` connections; after every connection has stopped,
        raises what stopped them all (DatabaseUnavailable when the database stayed away, or an
        unexpected error); connection failures are retried and never raised here."""
        if connections == 1:
            self._connection()
        else:
            threads = [threading.Thread(target=self._connection, name=f"smtp-{n}", daemon=True)
                       for n in range(connections)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        fatal = next((e for e in self.errors if not isinstance(e, CONNECTION_ERRORS)), None)
        if fatal is not None:
            raise fatal

    def _next(self) -> ClaimedDelivery | None:
        if self._stop.is_set():
            return None
        try:
            return self.todo.get_nowait()
        except queue.Empty:
            return None

    def _connection(self) -> None:
        """One connection's loop: send, record, next; reconnect with backoff after a failure."""
        failures = 0
        while failures <= self.engine.reconnects and not self._stop.is_set():
            try:
                with self.engine.mailer.open() as out, self.engine.store.writer() as writer:
                    row = self._next()
                    while row is not None:
                        # The next row is taken first, so its envelope can travel with this data.
                        following = self._next()
                        try:
                            self._send(row, out, writer, following)
                        except BaseException:
                            if following is not None:
                                self.todo.put(following)
                            raise
                        failures = 0
                        if following is not None and self._stop.is_set():
                            self.todo.put(following)
                            break
                        row = following
                return
            except CONNECTION_ERRORS as exc:  # this connection failed: only its own row goes back
                self._failed(exc)
                failures += 1
                if failures <= self.engine.reconnects:
                    log.warning("SMTP connection failed (%s: %s); reconnecting in %s s",
                                type(exc).__name__, exc, 2 ** (failures - 1))
                    self.engine.sleep(2 ** (failures - 1))
            except BaseException as exc:  # the database stayed away, or a bug: every connection stops
                self._failed(exc)
                self._stop.set()
                return

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self.errors.append(exc)

    def _send(self, row: ClaimedDelivery, out: Outgoing, writer: OutcomeWriter,
              following: ClaimedDelivery | None) -> None:
        """Mail one claimed row (or skip it) and record its outcome before returning; `following`
        is the row this connection sends next, if any."""
        e = self.engine
        now = e.now()
        if not _mailed(row):
            why = "not subscribed any more" if not row.receiving else NOTHING_NEW
            self._record(writer, Outcome(row.delivery_id, DeliveryState.SKIPPED, why), None)
            return
        template = e.cache.template(e.settings, self.edition, row.language, row.article_ids)
        data = out.prepare(template, recipient_for(e.settings, e.signer, self.edition, row, now))
        try:
            then = following.email if following is not None and _mailed(following) else None
            reply = out.send_prepared(row.email, data, then)
        except BaseException:
            self.todo.put(row)  # not sent: another connection (or this one, reconnected) takes it
            raise
        self.in_flight.add(row.delivery_id)
        outcome = outcome_of(e.settings, reply, row, now)
        self._record(writer, outcome, row.subscriber_id if outcome.state == DeliveryState.BOUNCED else None)

    def _record(self, writer: OutcomeWriter, outcome: Outcome, suppress: int | None) -> None:
        self.engine.record(writer, outcome, suppress)
        with self._lock:
            self.in_flight.discard(outcome.delivery_id)
            self.done.add(outcome.delivery_id)
            self.result.add(outcome.state)
