"""One claimed batch while it is sent: the per-row rules (a reader's fields, what a reply does to
the row) and the batch's shared state (rows left, rows done, rows answered but not yet recorded),
drained by the threads of fanout.py or by the selector loop of fanout_loop.py."""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from syndicate.digests.edition_mail import EditionMail
from syndicate.digests.msgids import delivery_message_id
from syndicate.digests.ports import ClaimedDelivery, Outcome
from syndicate.digests.states import DeliveryState
from syndicate.digests.tokens import MANAGE, Signer
from syndicate.mail.message import Recipient
from syndicate.mail.strings import strings_for
from syndicate.mail.transport import SendResult
from syndicate.settings import Settings

if TYPE_CHECKING:
    from syndicate.digests.fanout import Fanout

NOTHING_NEW = "nothing new: every story of this edition was already mailed to this reader"


def mailed(row: ClaimedDelivery) -> bool:
    """True when the row gets a message: its reader still receives the list and has something new."""
    return row.receiving and row.article_ids != ()


def skipped(row: ClaimedDelivery) -> Outcome:
    """The outcome of a row that gets no message (see `mailed`)."""
    why = "not subscribed any more" if not row.receiving else NOTHING_NEW
    return Outcome(row.delivery_id, DeliveryState.SKIPPED, why)


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


class BatchRun:
    """One batch's claimed rows while they are sent, shared by whatever drains them.

    A row is in exactly one place: `todo` (not tried), with a sender, `in_flight` (its message
    may have reached the server, its outcome is not recorded) or `done`. Rows left in `todo` at
    the end are released at once; rows `in_flight` are left to the sweep, as after a crash.
    """

    def __init__(self, engine: Fanout, edition: EditionMail, rows: list[ClaimedDelivery]) -> None:
        self.engine = engine
        self.edition = edition
        self.todo: queue.SimpleQueue[ClaimedDelivery] = queue.SimpleQueue()
        for row in rows:
            self.todo.put(row)
        self.result = BatchResult()
        self.done: set[int] = set()
        self.in_flight: set[int] = set()  # may have reached the server, outcome not recorded
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()  # the database stayed away, or a bug: every connection stops

    def next(self) -> ClaimedDelivery | None:
        """The next row to send, or None when none is left or sending stopped."""
        if self.stop.is_set():
            return None
        try:
            return self.todo.get_nowait()
        except queue.Empty:
            return None

    def failed(self, exc: BaseException) -> None:
        """Note what stopped a connection (or all of them)."""
        with self.lock:
            self.errors.append(exc)

    def settled(self, outcomes: Sequence[Outcome]) -> None:
        """These outcomes are recorded: their rows are done."""
        with self.lock:
            for outcome in outcomes:
                self.in_flight.discard(outcome.delivery_id)
                self.done.add(outcome.delivery_id)
                self.result.add(outcome.state)
