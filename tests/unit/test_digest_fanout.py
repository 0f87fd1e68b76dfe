"""The sending engine on a fake DeliveryStore and a fake transport: what each reply does to a row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from syndicate.digests.fanout import run_batch
from syndicate.digests.msgids import read_delivery_message_id
from syndicate.digests.ports import Claimed, EditionContent
from syndicate.domain.articles import Article
from syndicate.mail.transport import ClosesOnExit, SendResult
from syndicate.settings import Settings, load_settings

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class FakeStore:
    """A DeliveryStore in memory: rows move queued -> sending on claim, outcomes are kept."""

    def __init__(self, rows: list[Claimed]) -> None:
        self.queued = {r.delivery_id: r for r in rows}
        self.outcomes: list[dict[str, Any]] = []
        self.suppressed: list[int] = []
        self.released: list[int] = []
        self.records = 0

    def edition_content(self, edition_id: int) -> EditionContent:
        article = Article(id=1, guid="g-1", slug="anniversary", title="CSTO celebrates its anniversary",
                          body_html="<p>Twenty-five years.</p>", published_at=NOW, updated_at=NOW)
        return EditionContent(edition_id, 7, "world", "World news", "daily", [article])

    def claim(self, edition_id: int, list_id: int, lo: int, hi: int, *, now: datetime) -> list[Claimed]:
        got = [r for i, r in sorted(self.queued.items()) if lo <= i <= hi]
        for row in got:
            del self.queued[row.delivery_id]
        return got

    def record(self, outcomes: Sequence[dict[str, Any]], suppress: Sequence[int], *, now: datetime) -> None:
        self.outcomes += [dict(o) for o in outcomes]
        self.suppressed += list(suppress)
        self.records += 1

    def release(self, delivery_ids: Sequence[int], *, now: datetime) -> None:
        self.released += list(delivery_ids)


class FakeTransport(ClosesOnExit):
    """Answers each recipient from `replies` (default 250); raises after `breaks_after` sends."""

    def __init__(self, replies: dict[str, SendResult], breaks_after: int | None = None) -> None:
        self.replies = replies
        self.breaks_after = breaks_after
        self.sent: list[tuple[str, bytes]] = []
        self.closed = False

    def send(self, sender: str, recipient: str, data: bytes) -> SendResult:
        if self.breaks_after is not None and len(self.sent) >= self.breaks_after:
            raise ConnectionResetError("connection lost")
        self.sent.append((recipient, data))
        return self.replies.get(recipient, SendResult(250, "2.0.0 ok"))

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(var_dir=tmp_path, secret_key="fanout-secret-0123456789", admin_token="t" * 24,
                         base_url="https://news.example.com", mail_max_attempts=3, mail_retry_seconds=60)


def claimed(delivery_id: int, email: str, *, attempts: int = 1, receiving: bool = True) -> Claimed:
    return Claimed(delivery_id, 100 + delivery_id, email, "", "en", attempts, receiving)


def test_each_reply_decides_the_row_state(settings: Settings) -> None:
    store = FakeStore([
        claimed(1, "ok@example.org"), claimed(2, "busy@example.org"),
        claimed(3, "gone@example.org"), claimed(4, "left@example.org", receiving=False),
        claimed(5, "tired@example.org", attempts=3), claimed(6, "policy@example.org"),
    ])
    transport = FakeTransport({
        "busy@example.org": SendResult(451, "4.3.0 try later"),
        "gone@example.org": SendResult(550, "5.1.1 no such user"),
        "tired@example.org": SendResult(451, "4.3.0 still busy"),
        "policy@example.org": SendResult(554, "5.7.1 sender refused", recipient_fault=False),
    })
    result = run_batch(store, settings, 3, 1, 6, now=lambda: NOW, transport_factory=lambda s: transport)
    states = {o["id"]: o["state"] for o in store.outcomes}
    assert states == {1: "sent", 2: "queued", 3: "bounced", 4: "skipped", 5: "failed", 6: "failed"}
    retry = next(o for o in store.outcomes if o["id"] == 2)
    assert retry["next_attempt_at"] == NOW + timedelta(seconds=60) and retry["enqueued_at"] is None
    assert store.suppressed == [103]  # only the recipient's own 5xx suppresses
    assert result.counts == {"sent": 1, "queued": 1, "bounced": 1, "skipped": 1, "failed": 2}
    assert [r for r, _ in transport.sent] == ["ok@example.org", "busy@example.org", "gone@example.org",
                                             "tired@example.org", "policy@example.org"]
    assert transport.closed and store.released == []

    message = message_from_bytes(transport.sent[0][1], policy=policy.default)
    assert message["To"] == "ok@example.org"
    assert read_delivery_message_id(settings.resolved_secret_key, "news.example.com",
                                     str(message["Message-ID"])) is not None
    assert message["List-Unsubscribe"].startswith("<https://news.example.com/unsubscribe/")


def test_a_lost_connection_records_what_was_sent_and_releases_the_rest(settings: Settings) -> None:
    store = FakeStore([claimed(n, f"r{n}@example.org") for n in range(1, 6)])
    transport = FakeTransport({}, breaks_after=2)
    with pytest.raises(ConnectionResetError):
        run_batch(store, settings, 4, 1, 5, now=lambda: NOW, transport_factory=lambda s: transport)
    assert [(o["id"], o["state"]) for o in store.outcomes] == [(1, "sent"), (2, "sent")]
    assert sorted(store.released) == [3, 4, 5]
    assert transport.closed


def test_a_second_run_of_the_same_batch_sends_nothing(settings: Settings) -> None:
    store = FakeStore([claimed(1, "a@example.org"), claimed(2, "b@example.org")])
    transport = FakeTransport({})
    run_batch(store, settings, 5, 1, 2, now=lambda: NOW, transport_factory=lambda s: transport)
    again = run_batch(store, settings, 5, 1, 2, now=lambda: NOW, transport_factory=lambda s: transport)
    assert again.counts == {} and len(transport.sent) == 2 and store.records == 1
