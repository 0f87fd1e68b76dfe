"""The one way a message leaves syndicate: built, DKIM-signed, paced and sent over one connection.

Digests and confirmation mails both go through a `Mailer`. Bootstrap builds it once per process
with the DKIM signer and the send pace (shared through Redis when REDIS_URL is set), so the
configured send rate holds over every kind of mail together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.utils import make_msgid, parseaddr
from functools import partial
from typing import Protocol

from syndicate.mail.dkim import DkimSigner, dkim_signer
from syndicate.mail.message import MessageTemplate, Recipient, build_simple
from syndicate.mail.transport import ClosesOnExit, SendResult, Transport, open_transport
from syndicate.settings import Settings


class Pace(Protocol):
    """Blocks until one more message may be sent (digests.ratelimit.SendPace)."""

    def wait(self) -> None:
        """Return once the send rate allows one more message."""


@dataclass(frozen=True)
class Mailer:
    """Sends messages from MAIL_FROM through connections from `connect`."""

    mail_from: str
    mail_domain: str
    connect: Callable[[], Transport]
    dkim: DkimSigner | None
    pace: Pace

    def open(self) -> Outgoing:
        """One connection to send over (`with mailer.open() as out:`); closed on the way out."""
        return Outgoing(self, self.connect())


class Outgoing(ClosesOnExit):
    """An open connection of a Mailer: each send builds, signs, waits for the pace and sends."""

    def __init__(self, mailer: Mailer, transport: Transport) -> None:
        self.mailer = mailer
        self.transport = transport
        self.sender = parseaddr(mailer.mail_from)[1]

    def send_template(self, template: MessageTemplate, recipient: Recipient) -> SendResult:
        """Fill one recipient into a serialized message and send it."""
        return self.send(recipient.email, template.for_recipient(recipient))

    def send_simple(self, *, to: str, subject: str, text: str, html_body: str) -> SendResult:
        """Build a one-off text+HTML message (a fresh Message-ID on our domain) and send it."""
        data = build_simple(mail_from=self.mailer.mail_from, to=to, subject=subject, text=text,
                            html_body=html_body, message_id=make_msgid(domain=self.mailer.mail_domain))
        return self.send(to, data)

    def send(self, recipient: str, data: bytes) -> SendResult:
        """Sign and send serialized bytes to one recipient; never raises for a refusal."""
        return self.send_prepared(recipient, self.sign(data))

    def prepare(self, template: MessageTemplate, recipient: Recipient) -> bytes:
        """The signed bytes of one recipient's message, ready for `send_prepared`."""
        return self.sign(template.for_recipient(recipient))

    def sign(self, data: bytes) -> bytes:
        """`data` with a DKIM signature when DKIM is configured, else as it is."""
        return self.mailer.dkim.sign(data) if self.mailer.dkim is not None else data

    def send_prepared(self, recipient: str, data: bytes, then: str | None = None) -> SendResult:
        """Wait for the send pace, then send signed bytes; never raises for a refusal.

        `then`: the recipient of this connection's next send, if known (see Transport.send).
        """
        self.mailer.pace.wait()
        return self.transport.send(self.sender, recipient, data, then)

    def close(self) -> None:
        """Close the connection."""
        self.transport.close()


def build_mailer(settings: Settings, pace: Pace) -> Mailer:
    """The process's mailer: SMTP_URL or .eml files, DKIM when configured (ConfigError if broken)."""
    return Mailer(mail_from=settings.mail_from, mail_domain=settings.mail_domain,
                  connect=partial(open_transport, settings), dkim=dkim_signer(settings), pace=pace)
