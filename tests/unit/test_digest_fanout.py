"""The sending engine on the fake ledger and a fake transport: what each reply does to a row."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from syndicate.digests.edition_mail import TemplateCache
from syndicate.digests.fanout import Fanout
from syndicate.digests.msgids import read_delivery_message_id
from syndicate.digests.ports import NewEdition
from syndicate.digests.states import DeliveryState, Frequency, SubscriberStatus
from syndicate.digests.tokens import Signer
from syndicate.mail.transport import SendResult
from syndicate.settings import Settings, load_settings
from tests.unit.fakes.digests import FakeDeliveryStore, FakeDigestDb, FakeEditionStore
from tests.unit.fakes.mail import FakePace, FakeTransport, fake_mailer

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SENT, QUEUED, BOUNCED, SKIPPED, FAILED = (DeliveryState.SENT, DeliveryState.QUEUED, DeliveryState.BOUNCED,
                                          DeliveryState.SKIPPED, DeliveryState.FAILED)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(var_dir=tmp_path, secret_key="fanout-secret-0123456789", admin_token="t" * 24,
                         base_url="https://news.example.com", mail_max_attempts=3, mail_retry_seconds=60,
                         smtp_connections=1)  # one connection: its order is what these tests read


def edition_for(db: FakeDigestDb, emails: list[str], **reader: object) -> int:
    """An edition of one article to a fresh list of `emails`; returns its id."""
    lst = db.add_list()
    for email in emails:
        db.add_reader(email, lst, **reader)  # type: ignore[arg-type]
    article = db.add_article("CSTO celebrates its anniversary", NOW - timedelta(hours=1))
    edition = NewEdition(lst.id, Frequency.DAILY, None, NOW - timedelta(days=1), NOW, (article.id,),
                         "World news: CSTO celebrates its anniversary")
    edition_id = FakeEditionStore(db).add(edition, lst, now=NOW)
    assert edition_id is not None
    return edition_id


def engine(db: FakeDigestDb, settings: Settings, transport: FakeTransport,
           pace: FakePace | None = None) -> tuple[Fanout, FakeDeliveryStore]:
    store = FakeDeliveryStore(db)
    mailer = fake_mailer(transport, pace=pace)
    return Fanout(store, mailer, TemplateCache(), Signer(settings.resolved_secret_key), settings,
                  lambda: NOW), store


def test_each_reply_decides_the_row_state(settings: Settings) -> None:
    db = FakeDigestDb()
    edition_id = edition_for(db, ["ok@example.org", "busy@example.org", "gone@example.org",
                                  "left@example.org", "policy@example.org"])
    left = db.by_email("left@example.org")
    db.subscribers[left.id] = replace(left, status=SubscriberStatus.UNSUBSCRIBED)
    transport = FakeTransport({
        "busy@example.org": SendResult(451, "4.3.0 try later"),
        "gone@example.org": SendResult(550, "5.1.1 no such user"),
        "policy@example.org": SendResult(554, "5.7.1 sender refused", recipient_fault=False),
    })
    pace = FakePace()
    fanout, store = engine(db, settings, transport, pace)
    result = fanout.send_batch(edition_id, 0, 10**9)
    assert db.states(edition_id) == {"ok@example.org": SENT, "busy@example.org": QUEUED,
                                     "gone@example.org": BOUNCED, "left@example.org": SKIPPED,
                                     "policy@example.org": FAILED}
    busy = next(d for d in db.deliveries.values() if d.subscriber_id == db.by_email("busy@example.org").id)
    assert busy.next_attempt_at == NOW + timedelta(seconds=60) and busy.enqueued_at is None
    # Only the recipient's own 5xx suppresses; a refusal of our message does not.
    assert db.by_email("gone@example.org").status == SubscriberStatus.BOUNCED
    assert db.by_email("policy@example.org").status == SubscriberStatus.ACTIVE
    assert result.counts == {"sent": 1, "queued": 1, "bounced": 1, "skipped": 1, "failed": 1}
    assert transport.recipients == ["ok@example.org", "busy@example.org", "gone@example.org",
                                    "policy@example.org"]
    assert pace.waits == 4 and transport.closed == 1 and store.released == []

    message = message_from_bytes(transport.sent[0][2], policy=policy.default)
    assert message["To"] == "ok@example.org"
    assert read_delivery_message_id(settings.resolved_secret_key, "news.example.com",
                                    str(message["Message-ID"])) is not None
    assert message["List-Unsubscribe"].startswith("<https://news.example.com/unsubscribe/")


def test_a_4xx_on_the_last_attempt_fails_the_row(settings: Settings) -> None:
    db = FakeDigestDb()
    edition_id = edition_for(db, ["tired@example.org"])
    for row in db.deliveries.values():
        row.attempts = 2  # the claim makes it the third, MAIL_MAX_ATTEMPTS
    transport = FakeTransport({"tired@example.org": SendResult(451, "4.3.0 still busy")})
    engine(db, settings, transport)[0].send_batch(edition_id, 0, 10**9)
    assert db.states(edition_id) == {"tired@example.org": FAILED}


def test_a_lost_connection_records_what_was_sent_and_releases_the_rest(settings: Settings) -> None:
    db = FakeDigestDb()
    edition_id = edition_for(db, [f"r{n}@example.org" for n in range(1, 6)])
    transport = FakeTransport(breaks_after=2)
    fanout, store = engine(db, settings, transport)
    pauses: list[float] = []
    fanout.sleep = pauses.append
    fanout.send_batch(edition_id, 0, 10**9)
    assert sorted(db.states(edition_id).values()) == [QUEUED, QUEUED, QUEUED, SENT, SENT]
    # The connection was tried again three times, with backoff, before the rows went back.
    assert len(store.released) == 3 and transport.closed == 4 and pauses == [1, 2, 4]


def test_a_connection_that_never_works_fails_the_batch(settings: Settings) -> None:
    db = FakeDigestDb()
    edition_id = edition_for(db, ["a@example.org", "b@example.org"])
    fanout, store = engine(db, settings, FakeTransport(breaks_after=0))
    fanout.sleep = lambda s: None
    with pytest.raises(ConnectionResetError):
        fanout.send_batch(edition_id, 0, 10**9)
    assert set(db.states(edition_id).values()) == {QUEUED} and len(store.released) == 2


def test_a_second_run_of_the_same_batch_sends_nothing(settings: Settings) -> None:
    db = FakeDigestDb()
    edition_id = edition_for(db, ["a@example.org", "b@example.org"])
    transport = FakeTransport()
    fanout, store = engine(db, settings, transport)
    fanout.send_batch(edition_id, 0, 10**9)
    again = fanout.send_batch(edition_id, 0, 10**9)
    assert again.counts == {} and len(transport.sent) == 2 and store.records == 2  # one per message


def test_each_language_is_rendered_once_per_process(settings: Settings) -> None:
    db = FakeDigestDb()
    lst = db.add_list()
    for n in range(3):
        db.add_reader(f"en{n}@example.org", lst)
        db.add_reader(f"ru{n}@example.org", lst, language="ru", name="Иван")
    article = db.add_article("Story", NOW - timedelta(hours=1))
    edition_id = FakeEditionStore(db).add(
        NewEdition(lst.id, Frequency.DAILY, None, NOW - timedelta(days=1), NOW, (article.id,), "s"), lst,
        now=NOW)
    assert edition_id is not None
    transport = FakeTransport()
    fanout, _ = engine(db, settings, transport)
    fanout.send_batch(edition_id, 0, 10**9)
    assert fanout.cache.renders == 2 and len(transport.sent) == 6
    ru = next(data for _, rcpt, data in transport.sent if rcpt == "ru0@example.org")
    body = message_from_bytes(ru, policy=policy.default).get_body(("plain",))
    assert body is not None and "Здравствуйте, Иван!" in body.get_content()


class RecordingOrder(FakeTransport):
    """Notes, at each send, how many outcomes the ledger already held."""

    def __init__(self, store_of: list[FakeDeliveryStore]) -> None:
        super().__init__()
        self.store_of = store_of
        self.recorded_before_send: list[int] = []

    def send(self, sender: str, recipient: str, data: bytes, then: str | None = None) -> SendResult:
        self.recorded_before_send.append(len(self.store_of[0].recorded))
        return super().send(sender, recipient, data)


def test_each_accepted_message_is_recorded_before_the_next_is_sent(settings: Settings) -> None:
    # A sender killed between two messages leaves at most the one in flight unrecorded.
    db = FakeDigestDb()
    edition_id = edition_for(db, [f"r{n}@example.org" for n in range(4)])
    holder: list[FakeDeliveryStore] = []
    transport = RecordingOrder(holder)
    fanout, store = engine(db, settings, transport)
    holder.append(store)
    fanout.send_batch(edition_id, 0, 10**9)
    assert transport.recorded_before_send == [0, 1, 2, 3]
    assert [a[1] for a in store.attempts] == [SENT] * 4  # the attempt history, one row each


def test_a_database_outage_stops_sending_until_it_is_back(settings: Settings) -> None:
    db = FakeDigestDb()
    edition_id = edition_for(db, ["a@example.org", "b@example.org", "c@example.org"])
    holder: list[FakeDeliveryStore] = []
    transport = RecordingOrder(holder)
    fanout, store = engine(db, settings, transport)
    holder.append(store)
    waits: list[float] = []
    fanout.sleep = waits.append
    store.down_for = 4  # the first message's outcome cannot be written four times in a row
    fanout.send_batch(edition_id, 0, 10**9)
    # Nothing more was sent while the first outcome waited; then every message went, once.
    assert transport.recorded_before_send == [0, 1, 2] and len(transport.sent) == 3
    assert len(waits) == 4 and db.states(edition_id) == dict.fromkeys(
        ["a@example.org", "b@example.org", "c@example.org"], SENT)


def test_a_database_that_stays_away_leaves_the_rows_to_the_sweep(settings: Settings) -> None:
    from syndicate.errors import DatabaseUnavailable

    db = FakeDigestDb()
    edition_id = edition_for(db, ["a@example.org", "b@example.org"])
    transport = FakeTransport()
    fanout, store = engine(db, settings, transport)
    fanout.sleep = lambda s: None
    fanout.outage_wait_s = 3.0
    store.down_for = 10**6
    with pytest.raises(DatabaseUnavailable):
        fanout.send_batch(edition_id, 0, 10**9)
    # One message went out and could not be recorded: the only one that may arrive twice.
    assert len(transport.sent) == 1
    assert set(db.states(edition_id).values()) == {DeliveryState.SENDING}


def test_a_live_sender_renews_the_lease_of_its_unfinished_rows(tmp_path: Path) -> None:
    import threading

    fast = load_settings(var_dir=tmp_path, secret_key="fanout-secret-0123456789", admin_token="t" * 24,
                         mail_lease_seconds=3)  # a renewal every 0.5 s
    db = FakeDigestDb()
    edition_id = edition_for(db, ["a@example.org", "b@example.org"])
    gate = threading.Event()

    class Slow(FakeTransport):
        def send(self, sender: str, recipient: str, data: bytes, then: str | None = None) -> SendResult:
            gate.wait(5)
            return super().send(sender, recipient, data)

    fanout, store = engine(db, fast, Slow())
    timer = threading.Timer(1.6, gate.set)
    timer.start()
    fanout.send_batch(edition_id, 0, 10**9)
    timer.join()
    assert store.heartbeats and all(len(ids) == 2 for ids in store.heartbeats)


class PoolServer:
    """A mail server behind many connections: each `connect` is a new FakeTransport; one of them
    (`drop_on`) is dropped by the server after it accepted its first message. With `together=N`
    the first message of each connection is answered only once N connections are sending at the
    same moment (a barrier: a pool that does not keep N connections busy fails the test)."""

    def __init__(self, drop_on: int | None = None, together: int | None = None) -> None:
        self.connections: list[FakeTransport] = []
        self.drop_on = drop_on
        self.barrier = threading.Barrier(together) if together else None
        self.lock = threading.Lock()

    def connect(self) -> FakeTransport:
        server = self

        class Connection(FakeTransport):
            def send(self, sender: str, recipient: str, data: bytes, then: str | None = None) -> SendResult:
                if server.barrier is not None and not self.sent:
                    server.barrier.wait(timeout=10)
                return super().send(sender, recipient, data)

        with self.lock:
            n = len(self.connections)
            transport = Connection(breaks_after=1 if n == self.drop_on else None)
            self.connections.append(transport)
            return transport

    def received(self) -> list[str]:
        return [r for t in self.connections for r in t.recipients]


def pooled(db: FakeDigestDb, settings: Settings, server: PoolServer) -> tuple[Fanout, FakeDeliveryStore]:
    from dataclasses import replace as dc_replace

    store = FakeDeliveryStore(db)
    mailer = dc_replace(fake_mailer(FakeTransport()), connect=server.connect)
    return Fanout(store, mailer, TemplateCache(), Signer(settings.resolved_secret_key), settings,
                  lambda: NOW, sleep=lambda s: None), store


def test_a_batch_keeps_every_connection_of_the_pool_busy(tmp_path: Path) -> None:
    wide = load_settings(var_dir=tmp_path, secret_key="fanout-secret-0123456789", admin_token="t" * 24,
                         smtp_connections=4)
    db = FakeDigestDb()
    emails = [f"r{n}@example.org" for n in range(40)]
    edition_id = edition_for(db, emails)
    server = PoolServer(together=4)
    fanout, store = pooled(db, wide, server)
    result = fanout.send_batch(edition_id, 0, 10**9)
    assert result.counts == {"sent": 40} and sorted(server.received()) == sorted(emails)
    assert len(server.connections) == 4 and all(t.recipients for t in server.connections)
    assert len(store.recorded) == 40 and fanout.cache.renders == 1  # one render, shared


def test_a_dropped_connection_retries_only_its_own_row(tmp_path: Path) -> None:
    wide = load_settings(var_dir=tmp_path, secret_key="fanout-secret-0123456789", admin_token="t" * 24,
                         smtp_connections=3)
    db = FakeDigestDb()
    emails = [f"r{n}@example.org" for n in range(30)]
    edition_id = edition_for(db, emails)
    server = PoolServer(drop_on=1)  # the second connection dies after its first message
    fanout, store = pooled(db, wide, server)
    fanout.send_batch(edition_id, 0, 10**9)
    # Nobody got two copies, nobody none; the ledger says exactly what the server received.
    assert sorted(server.received()) == sorted(emails)
    assert db.states(edition_id) == dict.fromkeys(emails, SENT) and len(store.recorded) == 30
    assert server.connections[1].closed == 1 and store.released == []


def test_one_info_line_per_edition_sent_none_per_batch(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    db = FakeDigestDb()
    edition_id = edition_for(db, ["a@example.org", "b@example.org", "c@example.org"])
    transport = FakeTransport({"c@example.org": SendResult(451, "4.3.0 try later")})
    fanout, _ = engine(db, settings, transport)
    first, *rest = sorted(db.deliveries)
    with caplog.at_level("INFO", logger="syndicate.digests.fanout"):
        fanout.send_batch(edition_id, first, first)  # one of three: the edition is not sent yet
        assert [r for r in caplog.records if r.levelname == "INFO"] == []
        fanout.send_batch(edition_id, rest[0], rest[-1])  # c is held back for a retry: not yet
        assert [r for r in caplog.records if r.levelname == "INFO"] == []
        transport.replies.clear()
        db.deliveries[rest[-1]].next_attempt_at = NOW
        fanout.send_batch(edition_id, rest[-1], rest[-1])
    (line,) = [r for r in caplog.records if r.levelname == "INFO"]
    assert line.getMessage() == (f"edition {edition_id} sent: queued=0 sending=0 sent=3 failed=0 "
                                 "bounced=0 skipped=0")
    assert line.edition_id == edition_id and line.sent == 3  # type: ignore[attr-defined]
