"""The one interface mail leaves through, and the choice between SMTP and .eml files."""

from __future__ import annotations

import selectors
import smtplib
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from syndicate.settings import Settings


@dataclass(frozen=True)
class SendResult:
    """The server's verdict on one recipient: an SMTP code and its text."""

    code: int
    reply: str
    # False when the refusal is about us (login, sender, content), not the recipient's mailbox:
    # such a 5xx fails the delivery but never suppresses the subscriber.
    recipient_fault: bool = True

    @property
    def ok(self) -> bool:
        """True when accepted (2xx)."""
        return 200 <= self.code < 300

    @property
    def bounce(self) -> bool:
        """True for a permanent (5xx) refusal of the recipient itself."""
        return 500 <= self.code < 600 and self.recipient_fault

    @property
    def temporary(self) -> bool:
        """True for 4xx (and for lost connections, reported as 421): try again later."""
        return 400 <= self.code < 500

    def describe(self) -> str:
        """'250 ok' style one-liner for the ledger."""
        return f"{self.code} {self.reply}".strip()[:500]


#: What a failing connection raises (dropped, refused, timed out, 421 at connect, a full disk
#: under the .eml outbox): the sender reconnects and goes on. Anything else is a bug and stops it.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (OSError, smtplib.SMTPException)


class Pipeline(Protocol):
    """A connection a selector loop drives, one message at a time (mail/smtp_pipeline.py)."""

    #: Monotonic time by which the message under way needs its next reply (None: nothing due).
    deadline: float | None

    def watch(self, selector: selectors.BaseSelector, data: object) -> None:
        """Keep the connection's socket registered with `selector` (key data `data`)."""

    def begin(self, sender: str, recipient: str, data: bytes, then: str | None) -> SendResult | None:
        """Start a send; its result if already known, else None (then `readable` gives it)."""

    def readable(self) -> SendResult | None:
        """Take what arrived; the result of the message under way once it is decided."""

    def expire(self) -> SendResult | None:
        """The reply is overdue: treat the connection as lost."""

    def release(self) -> None:
        """Stop watching; the connection stays open only when it is in step."""


class ClosesOnExit:
    """`with transport:` closes it on the way out, exception or not."""

    def close(self) -> None:
        """Release the connection (subclasses override)."""

    def pipeline(self) -> Pipeline | None:
        """None: only a transport that says so can be driven from a selector loop (Transport)."""
        return None

    def reusable(self) -> bool:
        """False: only a transport that says so is kept open for another sender (see Transport)."""
        return False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Transport(Protocol):
    """Sends already-serialized messages, one recipient per call, over one connection."""

    def send(self, sender: str, recipient: str, data: bytes, then: str | None = None) -> SendResult:
        """Send `data` to one recipient; never raises for a per-recipient refusal.

        `then` names the recipient of the next send, when the caller knows it: a transport may
        prepare that send ahead (an SMTP envelope), never deliver anything for it.
        """

    def reusable(self) -> bool:
        """True when the connection is open and idle, fit to carry another sender's messages."""

    def pipeline(self) -> Pipeline | None:
        """The connection for a selector loop, opened now when it is not; None when this
        transport cannot be driven that way (then `send`)."""

    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None: ...


def open_transport(settings: Settings) -> Transport:
    """SMTP when SMTP_URL is set, else .eml files in var/outbox/ (nothing connects until send)."""
    if settings.smtp_url:
        from syndicate.mail.smtp import SmtpTransport

        return SmtpTransport(settings.smtp_url)
    from syndicate.mail.outbox import OutboxTransport

    return OutboxTransport(settings.var_dir / "outbox")
