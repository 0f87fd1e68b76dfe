"""The server-less transport: each message becomes an .eml file under var/outbox/."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from syndicate.mail.transport import ClosesOnExit, SendResult


class OutboxTransport(ClosesOnExit):
    """Writes `<time>-<uuid>.eml` files atomically (temp file + rename); every send succeeds."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, sender: str, recipient: str, data: bytes, then: str | None = None) -> SendResult:
        """Write one message file; the envelope goes in X-Envelope-* lines on top."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{uuid.uuid4().hex}.eml"
        tmp = self.folder / f".{name}.tmp"
        envelope = f"X-Envelope-From: {sender}\r\nX-Envelope-To: {recipient}\r\n".encode()
        tmp.write_bytes(envelope + data)
        os.replace(tmp, self.folder / name)
        return SendResult(250, f"written {name}")

    def close(self) -> None:
        """Nothing to release."""

