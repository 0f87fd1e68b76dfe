"""The one way a message leaves syndicate: built, DKIM-signed, paced and sent over one connection.

Digests and confirmation mails both go through a `Mailer`. Bootstrap builds it once per process
with the DKIM signer and the send pace (shared through Redis when REDIS_URL is set), so the
configured send rate holds over every kind of mail together.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import make_msgid, parseaddr
from functools import partial
from types import TracebackType
from typing import Protocol

from syndicate.mail.dkim import DkimSigner, dkim_signer
from syndicate.mail.message import MessageTemplate, Recipient, build_simple
from syndicate.mail.transport import ClosesOnExit, Pipeline, SendResult, Transport, open_transport
from syndicate.settings import Settings


class Pace(Protocol):
    """Blocks until one more message may be sent (digests.ratelimit.SendPace)."""

    def wait(self) -> None:
        """Return once the send rate allows one more message."""


class IdleConnections:
    """Connections a process keeps open between batches, up to `size`, each reused for at most
    `max_idle_s` after its last use (mail servers drop idle clients after a minute or more).

    A connection goes back only when its sender finished without an error and it says it is
    `reusable`; one that failed is closed. After a fork the child starts with none: the sockets
    belong to the parent.
    """

    def __init__(self, size: int, max_idle_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.max_idle_s = max_idle_s
        self._clock = clock
        self._idle: list[tuple[float, Transport]] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def take(self) -> Transport | None:
        """A connection idle for less than `max_idle_s`, or None (older ones are closed)."""
        stale: list[Transport] = []
        found: Transport | None = None
        with self._lock:
            if self._pid != os.getpid():
                self._idle, self._pid = [], os.getpid()
            while self._idle and found is None:
                since, transport = self._idle.pop()
                if self._clock() - since < self.max_idle_s:
                    found = transport
                else:
                    stale.append(transport)
        for transport in stale:
            transport.close()
        return found

    def give(self, transport: Transport) -> None:
        """Keep a connection for the next sender, or close it when it cannot serve or none fit."""
        if transport.reusable():
            with self._lock:
                if self._pid == os.getpid() and len(self._idle) < self.size:
                    self._idle.append((self._clock(), transport))
                    return
        transport.close()


@dataclass(frozen=True)
class Mailer:
    """Sends messages from MAIL_FROM through connections from `connect`.

    With `idle`, connections outlive a sender: the next `open` reuses one (no new connection,
    greeting, TLS or login), so a worker's batches keep its connections busy.
    """

    mail_from: str
    mail_domain: str
    connect: Callable[[], Transport]
    dkim: DkimSigner | None
    pace: Pace
    idle: IdleConnections | None = None

    def open(self) -> Outgoing:
        """One connection to send over (`with mailer.open() as out:`); on the way out it is kept
        for reuse (see `idle`) or closed, and always closed after an error."""
        reused = self.idle.take() if self.idle is not None else None
        return Outgoing(self, reused if reused is not None else self.connect())


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

    def pipeline(self) -> Pipeline | None:
        """This connection for a selector loop, opened now when it is not (blocking); None
        when its transport cannot be driven that way (then `send_prepared`). See `begin`."""
        return self.transport.pipeline()

    def begin(self, pipe: Pipeline, recipient: str, data: bytes, then: str | None) -> SendResult | None:
        """Wait for the send pace, then start sending signed bytes on `pipe` (this connection's
        `pipeline()`); the result when already known, else None (`pipe.readable` gives it)."""
        self.mailer.pace.wait()
        return pipe.begin(self.sender, recipient, data, then)

    def close(self) -> None:
        """Done with the connection: kept for the next sender when the mailer keeps idle ones."""
        if self.mailer.idle is not None:
            self.mailer.idle.give(self.transport)
        else:
            self.transport.close()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if e is None:
            self.close()
        else:
            self.transport.close()  # in an unknown state: never handed to another sender


def build_mailer(settings: Settings, pace: Pace) -> Mailer:
    """The process's mailer: SMTP_URL or .eml files, DKIM when configured (ConfigError if broken)."""
    return Mailer(mail_from=settings.mail_from, mail_domain=settings.mail_domain,
                  connect=partial(open_transport, settings), dkim=dkim_signer(settings), pace=pace,
                  idle=IdleConnections(settings.smtp_connections))
