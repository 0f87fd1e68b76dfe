"""The digest use cases on fakes: send now, resend, sweep, build due, instant editions on publish."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicate.digests.service import DigestService, on_article_published
from syndicate.digests.states import DeliveryState, Frequency
from syndicate.domain.commands import Command, SendBatch
from syndicate.domain.events import ARTICLE_PUBLISHED, ArticleEvent
from syndicate.errors import InvalidDigestInput, NotFound
from syndicate.mail.transport import SendResult
from syndicate.settings import Settings, load_settings
from tests.unit.fakes.digests import FakeDigestDb, digest_service
from tests.unit.fakes.mail import FakeTransport, fake_mailer
from tests.unit.fakes.tasks import FakeTaskQueue

MONDAY_9 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Clock:
    """A settable `now`."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(var_dir=tmp_path, secret_key="service-secret-0123456789", admin_token="t" * 24,
                         base_url="https://news.example.com", mail_batch_size=2, mail_retry_seconds=0.0,
                         mail_lease_seconds=30, digest_hour=8, digest_weekday=0)


class World:
    """A fake ledger with the use cases, task queue and mail server around it."""

    def __init__(self, settings: Settings, *, down: bool = False) -> None:
        self.db = FakeDigestDb()
        self.tasks = FakeTaskQueue(down=down)
        self.transport = FakeTransport()
        self.clock = Clock(MONDAY_9)
        self.digests: DigestService = digest_service(self.db, settings, tasks=self.tasks,
                                                     mailer=fake_mailer(self.transport), now=self.clock)

    def run_batches(self) -> None:
        """What workers do with the submitted SendBatch commands."""
        while self.tasks.submitted:
            command = self.tasks.submitted.pop(0)
            assert isinstance(command, SendBatch)
            self.digests.send_batch(command.edition_id, command.lo, command.hi)


@pytest.fixture
def world(settings: Settings) -> World:
    return World(settings)


def test_send_now_builds_an_edition_and_submits_one_batch_per_slice(world: World) -> None:
    lst = world.db.add_list()
    for n in range(5):
        world.db.add_reader(f"r{n}@example.org", lst)
    world.db.add_article("Morning story", MONDAY_9 - timedelta(hours=2))
    edition_id = world.digests.send_now("world")
    assert edition_id is not None
    batches = [c for c in world.tasks.submitted if isinstance(c, SendBatch)]
    assert [(b.edition_id, b.hi - b.lo) for b in batches] == [(edition_id, 1), (edition_id, 1),
                                                              (edition_id, 0)]
    world.run_batches()
    assert sorted(world.transport.recipients) == [f"r{n}@example.org" for n in range(5)]
    assert world.digests.edition_counts(edition_id)[DeliveryState.SENT] == 5
    # Nothing new since that edition: nothing is built or mailed.
    assert world.digests.send_now("world") is None and len(world.transport.sent) == 5


def test_a_new_edition_is_stored_enqueued_and_cut_without_marking_its_rows_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    lst = world.db.add_list()
    for n in range(5):
        world.db.add_reader(f"r{n}@example.org", lst)
    world.db.add_article("Story", MONDAY_9 - timedelta(hours=1))
    cut = world.digests.deliveries.cut_batches
    monkeypatch.setattr(world.digests.deliveries, "cut_batches",
                        lambda *a, **k: pytest.fail("a new edition's rows were marked a second time"))
    refused: list[SendBatch] = []
    submit = world.tasks.submit

    def refuse_the_second(command: Command) -> bool:
        assert isinstance(command, SendBatch)
        if len(world.tasks.submitted) == 1 and not refused:
            refused.append(command)
            return False
        return submit(command)

    monkeypatch.setattr(world.tasks, "submit", refuse_the_second)
    edition_id = world.digests.send_now("world")
    assert edition_id is not None
    rows = sorted(world.db.deliveries.values(), key=lambda r: r.id)
    submitted = [c for c in world.tasks.submitted if isinstance(c, SendBatch)]
    assert [(c.lo, c.hi) for c in submitted] == [(rows[0].id, rows[1].id), (rows[4].id, rows[4].id)]
    # The refused range is marked never enqueued; every other row carries the broker's epoch.
    assert [(refused[0].lo, refused[0].hi)] == [(rows[2].id, rows[3].id)]
    assert [r.enqueued_epoch for r in rows] == ["epoch-1", "epoch-1", None, None, "epoch-1"]
    assert all(r.enqueued_at in (MONDAY_9, None) for r in rows)
    monkeypatch.setattr(world.digests.deliveries, "cut_batches", cut)
    world.tasks.submitted.clear()
    assert world.digests.sweep() == 1  # only the refused range goes again
    assert [(c.lo, c.hi) for c in world.tasks.submitted if isinstance(c, SendBatch)] == [
        (rows[2].id, rows[3].id)]


def test_send_now_names_an_unknown_list_and_skips_lists_without_readers(world: World) -> None:
    with pytest.raises(NotFound, match="'nope'"):
        world.digests.send_now("nope")
    world.db.add_list()
    world.db.add_article("Story", MONDAY_9 - timedelta(hours=1))
    assert world.digests.send_now("world") is None and world.tasks.submitted == []


def test_resend_queues_exactly_the_rows_named(world: World) -> None:
    lst = world.db.add_list()
    world.db.add_reader("a@example.org", lst)
    world.db.add_reader("b@example.org", lst)
    world.db.add_article("Story", MONDAY_9 - timedelta(hours=1))
    world.transport.replies = {"b@example.org": SendResult(554, "5.7.1 refused", recipient_fault=False)}
    edition_id = world.digests.send_now("world")
    assert edition_id is not None
    world.run_batches()
    assert world.db.states(edition_id) == {"a@example.org": "sent", "b@example.org": "failed"}
    world.transport.replies = {}
    assert world.digests.resend(edition_id, mode="failed-only") == 1
    world.run_batches()
    assert sorted(world.transport.recipients) == ["a@example.org", "b@example.org", "b@example.org"]
    assert world.digests.resend(edition_id, mode="to", email="a@example.org") == 1
    assert world.digests.resend(edition_id, mode="all") == 2
    with pytest.raises(InvalidDigestInput, match=r"no subscriber has the address 'x@example\.org'"):
        world.digests.resend(edition_id, mode="to", email="x@example.org")
    with pytest.raises(NotFound, match="edition 999"):
        world.digests.resend(999, mode="all")
    with pytest.raises(InvalidDigestInput, match="'everyone'"):
        world.digests.resend(edition_id, mode="everyone")


def test_sweep_resubmits_lost_batches_and_rows_of_dead_workers(settings: Settings) -> None:
    world = World(settings, down=True)  # the broker refuses every batch
    lst = world.db.add_list()
    world.db.add_reader("a@example.org", lst)
    world.db.add_article("Story", MONDAY_9 - timedelta(hours=1))
    edition_id = world.digests.send_now("world")
    assert edition_id is not None and world.tasks.submitted == []
    world.tasks.down = False
    assert world.digests.sweep() == 1  # the refused batch goes at once, not after a lease
    assert world.digests.sweep() == 0  # handed to this broker: a healthy queue may still hold it
    world.tasks.current_epoch = "epoch-2"  # Redis restarted without its data: the batch is gone
    assert world.digests.sweep() == 1
    # A worker claims the row and dies before sending: once its lease is not renewed for
    # MAIL_LEASE_SECONDS (30 s), the row is queued again.
    world.digests.deliveries.claim(edition_id, lst.id, 0, 10**9, now=world.clock.at)
    world.tasks.submitted.clear()
    world.clock.at += timedelta(seconds=20)
    assert world.digests.sweep() == 0  # within the lease: its sender may be alive
    world.clock.at += timedelta(seconds=11)
    assert world.digests.sweep() == 1
    world.run_batches()
    assert world.transport.recipients == ["a@example.org"]


def test_beat_builds_each_frequency_once_for_its_own_subscribers(world: World) -> None:
    lst = world.db.add_list(custom_frequency=True)
    world.db.add_reader("daily@example.org", lst)
    world.db.add_reader("weekly@example.org", lst, frequency=Frequency.WEEKLY)
    world.db.add_article("Monday story", MONDAY_9 - timedelta(hours=3))
    built = world.digests.build_due()
    assert world.digests.build_due() == []  # beat runs every few minutes: once per day/week only
    keys = {world.db.editions[e].edition.dedupe_key for e in built}
    assert keys == {"daily:2026-11-30", "weekly:2026-W49"}
    world.run_batches()
    assert sorted(world.transport.recipients) == ["daily@example.org", "weekly@example.org"]


def test_before_the_digest_hour_nothing_is_built(world: World) -> None:
    world.db.add_reader("daily@example.org", world.db.add_list())
    world.db.add_article("Early story", MONDAY_9 - timedelta(hours=3))
    world.clock.at = MONDAY_9.replace(hour=7)
    assert world.digests.build_due() == [] and world.tasks.submitted == []


def test_a_published_article_makes_one_instant_edition_per_matching_list(world: World) -> None:
    alerts = world.db.add_list("alerts", Frequency.INSTANT, categories=("politics",))
    sport = world.db.add_list("sport", Frequency.INSTANT, categories=("sport",))
    daily = world.db.add_list("daily")
    world.db.add_reader("fast@example.org", alerts)
    world.db.add_reader("fan@example.org", sport)
    world.db.add_reader("slow@example.org", daily)
    article = world.db.add_article("Vote tonight", MONDAY_9, categories=("politics",))
    event = ArticleEvent(event_id=1, type=ARTICLE_PUBLISHED, article_id=article.id, guid=article.guid)
    on_article_published(event, digests=world.digests)
    on_article_published(event, digests=world.digests)  # at-least-once delivery of the event
    assert [e.edition.dedupe_key for e in world.db.editions.values()] == [f"instant:{article.id}"]
    world.run_batches()
    assert world.transport.recipients == ["fast@example.org"]


def test_wait_until_final_reports_progress_until_nothing_is_left(world: World) -> None:
    lst = world.db.add_list()
    world.db.add_reader("a@example.org", lst)
    world.db.add_article("Story", MONDAY_9 - timedelta(hours=1))
    edition_id = world.digests.send_now("world")
    assert edition_id is not None
    seen: list[int] = []
    final = world.digests.wait_until_final(
        edition_id, on_progress=lambda c: seen.append(c[DeliveryState.QUEUED]),
        sleep=lambda _: world.run_batches())
    assert seen == [1, 0] and final[DeliveryState.SENT] == 1
