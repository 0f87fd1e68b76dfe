"""Sending one batch of an edition: claim rows, fill each recipient into the rendered message,
push it through one SMTP connection, and write the outcome of every row to the ledger.

The engine reaches the ledger only through the `DeliveryStore` port (digests/ports.py) and the
mail server only through a `Transport`; `send_batch` wires the container's SQL store in.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from syndicate.digests.msgids import delivery_message_id
from syndicate.digests.ports import Claimed, DeliveryStore, EditionContent
from syndicate.digests.ratelimit import send_pace
from syndicate.digests.states import BOUNCED, FAILED, QUEUED, SENT, SKIPPED
from syndicate.digests.tokens import MANAGE, Signer
from syndicate.mail.dkim import dkim_signer
from syndicate.mail.message import MessageTemplate, Recipient, build_template
from syndicate.mail.render import render_edition
from syndicate.mail.strings import mail_language, strings_for
from syndicate.mail.transport import SendResult, Transport, open_transport
from syndicate.services.media import with_available_images
from syndicate.settings import Settings

if TYPE_CHECKING:
    from syndicate.bootstrap import Container

log = logging.getLogger(__name__)
FLUSH_ROWS = 500
FLUSH_SECONDS = 2.0


@dataclass
class EditionMail:
    """An edition ready to send: its content and one serialized template per language."""

    content: EditionContent
    templates: dict[str, MessageTemplate] = field(default_factory=dict)

    @property
    def edition_id(self) -> int:
        """The edition's id."""
        return self.content.edition_id

    @property
    def list_id(self) -> int:
        """The id of the edition's list."""
        return self.content.list_id


class TemplateCache:
    """Rendered editions of this process (premailer and serialization run once per language)."""

    def __init__(self, size: int = 16) -> None:
        # Keyed by database too: edition ids repeat across databases (tests, benchmarks).
        self._items: OrderedDict[tuple[str, int], EditionMail] = OrderedDict()
        self._size = size
        self.renders = 0

    def edition(self, store: DeliveryStore, database: str, edition_id: int) -> EditionMail:
        """The cached edition of `database`, loaded from `store` on first use."""
        key = (database, edition_id)
        item = self._items.get(key)
        if item is None:
            item = EditionMail(store.edition_content(edition_id))
            self._items[key] = item
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return item

    def template(self, settings: Settings, item: EditionMail, language: str) -> MessageTemplate:
        """The serialized message of an edition in a language, rendered on first use."""
        lang = mail_language(language)
        tpl = item.templates.get(lang)
        if tpl is None:
            tpl = render_template(settings, item.content, lang)
            item.templates[lang] = tpl
            self.renders += 1
        return tpl


def render_template(settings: Settings, content: EditionContent, language: str) -> MessageTemplate:
    """Render (Jinja2 + premailer) and serialize an edition once for one language."""
    rendered = render_edition(list_name=content.list_name, frequency=content.frequency,
                              articles=with_available_images(content.articles, settings),
                              language=language, base_url=settings.base_url,
                              max_html_bytes=settings.mail_max_html_bytes)
    return build_template(
        mail_from=settings.mail_from, subject=rendered.subject,
        list_id=f"{content.list_name} <{content.list_slug}.{settings.mail_domain}>",
        text=rendered.text, html_body=rendered.html,
    )


_CACHE = TemplateCache()


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Delay before the next try after `attempts` temporary failures: base × 5^(attempts-1)."""
    return timedelta(seconds=settings.mail_retry_seconds * 5 ** max(0, attempts - 1))


def recipient_for(settings: Settings, signer: Signer, edition: EditionMail, row: Claimed,
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


@dataclass
class BatchResult:
    """Outcomes of one batch run, per state."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, state: str) -> None:
        """Count one outcome."""
        self.counts[state] = self.counts.get(state, 0) + 1


def send_batch(
    container: Container, edition_id: int, lo: int, hi: int,
    *, transport_factory: Callable[[Settings], Transport] = open_transport,
) -> BatchResult:
    """Send the due queued rows of an edition with ids in [lo, hi]; safe to run twice."""
    return run_batch(container.deliveries(), container.settings, edition_id, lo, hi,
                     now=container.now, transport_factory=transport_factory)


def run_batch(
    store: DeliveryStore, settings: Settings, edition_id: int, lo: int, hi: int,
    *, now: Callable[[], datetime], transport_factory: Callable[[Settings], Transport] = open_transport,
) -> BatchResult:
    """`send_batch` on any DeliveryStore: claim, mail over one connection, record every outcome.

    Outcomes are recorded every FLUSH_ROWS rows or FLUSH_SECONDS, and at the end even when the
    transport fails; rows claimed but never tried are released to `queued` at once.
    """
    edition = _CACHE.edition(store, settings.effective_database_url, edition_id)
    rows = store.claim(edition_id, edition.list_id, lo, hi, now=now())
    run = _BatchRun(store, settings, now, edition)
    if not rows:
        return run.result
    try:
        with transport_factory(settings) as transport:
            for row in rows:
                run.send(row, transport)
    finally:
        run.flush()
        # Rows this run claimed but never tried (an error stopped it) go back to the queue now.
        left = [r.delivery_id for r in rows if r.delivery_id not in run.done]
        if left:
            store.release(left, now=now())
    log.info("edition %s batch %s-%s: %s", edition_id, lo, hi, run.result.counts)
    return run.result


class _BatchRun:
    """One batch's sending state: outcomes are written to the ledger every few hundred rows."""

    def __init__(self, store: DeliveryStore, settings: Settings, now: Callable[[], datetime],
                 edition: EditionMail) -> None:
        self.store = store
        self.settings = settings
        self.now = now
        self.edition = edition
        self.signer = Signer(self.settings.resolved_secret_key)
        self.pace = send_pace(self.settings)
        self.sender = parseaddr(self.settings.mail_from)[1]
        self.dkim = dkim_signer(self.settings)
        self.result = BatchResult()
        self.done: set[int] = set()
        self.outcomes: list[dict[str, Any]] = []
        self.suppress: list[int] = []
        self.last_flush = time.monotonic()

    def send(self, row: Claimed, transport: Transport) -> None:
        """Mail one claimed row (or skip it) and remember the outcome."""
        now = self.now()
        if not row.receiving:
            outcome: dict[str, Any] = {"state": SKIPPED, "last_reply": "not subscribed any more"}
        else:
            template = _CACHE.template(self.settings, self.edition, row.language)
            data = template.for_recipient(recipient_for(self.settings, self.signer, self.edition, row, now))
            if self.dkim is not None:
                data = self.dkim.sign(data)
            self.pace.wait()
            outcome = _outcome(self.settings, transport.send(self.sender, row.email, data), row, now)
            if outcome["state"] == BOUNCED:
                self.suppress.append(row.subscriber_id)
        outcome["id"] = row.delivery_id
        self.outcomes.append(outcome)
        self.done.add(row.delivery_id)
        self.result.add(outcome["state"])
        if len(self.outcomes) >= FLUSH_ROWS or time.monotonic() - self.last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the outcomes gathered so far."""
        if self.outcomes or self.suppress:
            self.store.record(self.outcomes, self.suppress, now=self.now())
        self.outcomes.clear()
        self.suppress.clear()
        self.last_flush = time.monotonic()


def _outcome(settings: Settings, sent: SendResult, row: Claimed, now: datetime) -> dict[str, Any]:
    reply = sent.describe()
    if sent.ok:
        return {"state": SENT, "last_reply": reply}
    if sent.temporary and row.attempts < settings.mail_max_attempts:
        # Retried from the database by the sweep, not by a Celery countdown.
        return {"state": QUEUED, "last_reply": reply, "enqueued_at": None,
                "next_attempt_at": now + backoff(settings, row.attempts)}
    if sent.bounce:
        return {"state": BOUNCED, "last_reply": reply}
    return {"state": FAILED, "last_reply": reply}
