"""A transport that records messages, a pace that counts waits, and a Mailer built on them."""

from __future__ import annotations

from syndicate.mail.dkim import DkimSigner
from syndicate.mail.mailer import Mailer
from syndicate.mail.transport import ClosesOnExit, SendResult


class FakeTransport(ClosesOnExit):
    """Answers each recipient from `replies` (default 250); raises after `breaks_after` sends."""

    def __init__(self, replies: dict[str, SendResult] | None = None, breaks_after: int | None = None) -> None:
        self.replies = replies or {}
        self.breaks_after = breaks_after
        self.sent: list[tuple[str, str, bytes]] = []
        self.opened = 0
        self.closed = 0

    def send(self, sender: str, recipient: str, data: bytes, then: str | None = None) -> SendResult:
        """Record (sender, recipient, data); the reply chosen for the recipient."""
        if self.breaks_after is not None and len(self.sent) >= self.breaks_after:
            raise ConnectionResetError("connection lost")
        self.sent.append((sender, recipient, data))
        return self.replies.get(recipient, SendResult(250, "2.0.0 ok"))

    def close(self) -> None:
        """Count the close."""
        self.closed += 1

    def connect(self) -> FakeTransport:
        """Itself, counted as one more connection (a Mailer's `connect`)."""
        self.opened += 1
        return self

    @property
    def recipients(self) -> list[str]:
        """Envelope recipients in sending order."""
        return [r for _, r, _ in self.sent]


class FakePace:
    """Never blocks; counts how often a sender waited for its turn."""

    def __init__(self) -> None:
        self.waits = 0

    def wait(self) -> None:
        """Count one wait."""
        self.waits += 1


def fake_mailer(
    transport: FakeTransport, *, pace: FakePace | None = None, dkim: DkimSigner | None = None,
    mail_from: str = "Newsroom <news@news.example.com>", mail_domain: str = "news.example.com",
) -> Mailer:
    """A Mailer from `mail_from` (Message-IDs on `mail_domain`) that sends through `transport`."""
    return Mailer(mail_from=mail_from, mail_domain=mail_domain, connect=transport.connect, dkim=dkim,
                  pace=pace or FakePace())
