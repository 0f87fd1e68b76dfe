"""Helpers of digest tests: a recording SMTP server, lists, subscribers, the sample article."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import insert

from syndicate.digests import subscribers as subs
from syndicate.digests.ports import MailingList
from syndicate.storage.digest_models import SubscriberRow, SubscriptionRow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SAMPLE = EXAMPLES / "csto-anniversary.txt"
SAMPLE_TITLE = "A quarter of a century together: CSTO celebrates anniversary"


@contextmanager
def serving(sink: SmtpSink, **tls: Any) -> Iterator[SmtpSink]:
    """`sink` answering on its port (aiosmtpd's Controller; `tls`: its TLS arguments) inside
    the block."""
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port, **tls)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def ehlo_responses(session: Any, hostname: str, responses: list[str], *, pipelining: bool) -> list[str]:
    """aiosmtpd's EHLO reply (its `handle_EHLO` hook), with PIPELINING added when asked."""
    session.host_name = hostname
    return [*responses[:-1], "250-PIPELINING", responses[-1]] if pipelining else responses


@dataclass
class SmtpSink:
    """An aiosmtpd server on loopback that records messages and refuses chosen recipients.

    `replies[address]` is a list of RCPT replies used one per attempt ('451 …', '550 …');
    when it runs out the address is accepted. It offers PIPELINING, as postfix and most mail
    servers do (aiosmtpd alone does not), unless `pipelining` is False.
    """

    port: int = 0
    replies: dict[str, list[str]] = field(default_factory=dict)
    received: list[tuple[list[str], bytes]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    pipelining: bool = True

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        return ehlo_responses(session, hostname, responses, pipelining=self.pipelining)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: Any) -> str:
        with self.lock:
            queued = self.replies.get(address)
            if queued:
                reply = queued.pop(0)
                self.refused.append((address, reply))
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 Message accepted"

    def messages(self) -> list[EmailMessage]:
        """Every received message, parsed."""
        with self.lock:
            raw = [data for _, data in self.received]
        return [message_from_bytes(d, policy=policy.default) for d in raw]  # type: ignore[misc]

    def recipients(self) -> list[str]:
        """Envelope recipients of every received message, in order."""
        with self.lock:
            return [r for rcpts, _ in self.received for r in rcpts]

    @property
    def url(self) -> str:
        """SMTP_URL of this server."""
        return f"smtp://127.0.0.1:{self.port}"


def make_list(container: Any, slug: str = "world", frequency: str = "daily", **kw: Any) -> MailingList:
    """Create a list and return it."""
    return subs.create_list(container.digest_uow, slug=slug, name=kw.pop("name", "World news"),
                            frequency=frequency, language=kw.pop("language", None),
                            categories=kw.pop("categories", []),
                            custom_frequency=kw.pop("custom_frequency", False), now=container.now(),
                            description=kw.pop("description", ""), visibility=kw.pop("visibility", "public"))


def add_active(container: Any, lst: Any, emails: list[str], language: str = "en") -> None:
    """Bulk-insert confirmed subscribers of `lst` (fast enough for tens of thousands)."""
    now = datetime.now(UTC)
    with container.session_factory() as session:
        first = session.execute(insert(SubscriberRow).returning(SubscriberRow.id), [
            {"email": e, "name": "", "language": language, "status": "active", "created_at": now}
            for e in emails
        ]).scalars().all()
        session.execute(insert(SubscriptionRow), [
            {"subscriber_id": sid, "list_id": lst.id, "status": "active", "created_at": now}
            for sid in first
        ])
        session.commit()


def publish_sample(container: Any) -> Any:
    """Import the sample article, published now."""
    now = datetime.now(UTC).isoformat()
    return container.articles.import_file(SAMPLE, overrides={"published_at": now}).result.article
