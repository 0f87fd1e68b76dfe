"""Sending one batch of an edition: claim rows, fill each recipient into the rendered message,
send it through one connection of the Mailer, and write the outcome of every row to the ledger.

The engine reaches the ledger only through the `DeliveryStore` port (digests/ports.py) and the
mail server only through the `Mailer` (mail/mailer.py): listmonk's manager, store and messenger.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from syndicate.digests.msgids import delivery_message_id
from syndicate.digests.ports import ClaimedDelivery, DeliveryStore, EditionContent, Outcome
from syndicate.digests.states import DeliveryState
from syndicate.digests.tokens import MANAGE, Signer, edition_view_url
from syndicate.mail.mailer import Mailer, Outgoing
from syndicate.mail.message import MessageTemplate, Recipient, build_template
from syndicate.mail.render import Masthead, render_edition
from syndicate.mail.strings import mail_language, strings_for
from syndicate.mail.transport import SendResult
from syndicate.services.media import with_available_images
from syndicate.settings import Settings

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
    """Rendered editions of one process and database (premailer runs once per language).

    Bootstrap builds one per container; an edition's content never changes once built.
    """

    def __init__(self, size: int = 16) -> None:
        self._items: OrderedDict[int, EditionMail] = OrderedDict()
        self._size = size
        self.renders = 0

    def edition(self, store: DeliveryStore, edition_id: int) -> EditionMail:
        """The cached edition, loaded from `store` on first use."""
        item = self._items.get(edition_id)
        if item is None:
            item = EditionMail(store.edition_content(edition_id))
            self._items[edition_id] = item
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
    """The sending engine: one batch of one edition at a time, from the ledger to the mail server."""

    store: DeliveryStore
    mailer: Mailer
    cache: TemplateCache
    signer: Signer
    settings: Settings
    now: Callable[[], datetime]

    def send_batch(self, edition_id: int, lo: int, hi: int) -> BatchResult:
        """Send the due queued rows of an edition with ids in [lo, hi]; safe to run twice.

        Outcomes are recorded every FLUSH_ROWS rows or FLUSH_SECONDS, and at the end even when
        the connection fails; rows claimed but never tried are released to `queued` at once.
        """
        edition = self.cache.edition(self.store, edition_id)
        rows = self.store.claim(edition_id, edition.list_id, lo, hi, now=self.now())
        run = _BatchRun(self, edition)
        if not rows:
            return run.result
        try:
            with self.mailer.open() as out:
                for row in rows:
                    run.send(row, out)
        finally:
            run.flush()
            # Rows this run claimed but never tried (an error stopped it) go back to the queue now.
            left = [r.delivery_id for r in rows if r.delivery_id not in run.done]
            if left:
                self.store.release(left, now=self.now())
        log.info("edition %s batch %s-%s: %s", edition_id, lo, hi, run.result.counts)
        return run.result


class _BatchRun:
    """One batch's sending state: outcomes are written to the ledger every few hundred rows."""

    def __init__(self, engine: Fanout, edition: EditionMail) -> None:
        self.engine = engine
        self.edition = edition
        self.result = BatchResult()
        self.done: set[int] = set()
        self.outcomes: list[Outcome] = []
        self.suppress: list[int] = []
        self.last_flush = time.monotonic()

    def send(self, row: ClaimedDelivery, out: Outgoing) -> None:
        """Mail one claimed row (or skip it) and remember the outcome."""
        e = self.engine
        now = e.now()
        if not row.receiving:
            outcome = Outcome(row.delivery_id, DeliveryState.SKIPPED, "not subscribed any more")
        else:
            template = e.cache.template(e.settings, self.edition, row.language)
            recipient = recipient_for(e.settings, e.signer, self.edition, row, now)
            outcome = outcome_of(e.settings, out.send_template(template, recipient), row, now)
            if outcome.state == DeliveryState.BOUNCED:
                self.suppress.append(row.subscriber_id)
        self.outcomes.append(outcome)
        self.done.add(row.delivery_id)
        self.result.add(outcome.state)
        if len(self.outcomes) >= FLUSH_ROWS or time.monotonic() - self.last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the outcomes gathered so far."""
        if self.outcomes or self.suppress:
            self.engine.store.record(self.outcomes, self.suppress, now=self.engine.now())
        self.outcomes.clear()
        self.suppress.clear()
        self.last_flush = time.monotonic()
