"""Editions and the delivery ledger against a real SMTP server on loopback (batches run inline)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from syndicate.digests.editions import create_edition
from syndicate.digests.service import on_article_published
from syndicate.digests.states import Frequency
from syndicate.domain.events import ARTICLE_PUBLISHED, ArticleEvent
from syndicate.errors import InvalidDigestInput
from syndicate.storage import delivery_ledger as ledger
from syndicate.storage.digest_models import (
    DeliveryAttemptRow,
    DeliveryRow,
    EditionRow,
    SubscriberRow,
    SubscriptionRow,
)
from syndicate.storage.edition_store import SqlEditionStore
from syndicate.storage.models import ArticleRow
from tests.integration.digest_helpers import (
    SAMPLE_TITLE,
    SmtpSink,
    add_active,
    make_list,
    publish_sample,
    serving,
)

pytest_plugins = ["tests.integration.conftest_digests"]


@pytest.fixture
def mail_container(make_container: Callable[..., Any], smtp_sink: SmtpSink) -> Any:
    return make_container(smtp_url=smtp_sink.url, base_url="https://news.example.com",
                          mail_batch_size=4, mail_retry_seconds=0.0)


def run_all(container: Any, edition_id: int) -> dict[str, int]:
    """What the workers do with the batches the planner enqueued (run here inline)."""
    container.digests.send_batch(edition_id, 0, 2**62)
    return container.digests.edition_counts(edition_id)


def test_planner_cuts_keyset_batches_of_the_configured_size(mail_container: Any) -> None:
    lst = make_list(mail_container)
    add_active(mail_container, lst, [f"r{n}@example.com" for n in range(10)])
    publish_sample(mail_container)
    editions = SqlEditionStore(mail_container.session_factory)
    edition_id = create_edition(editions, lst, frequency=Frequency.DAILY, now=mail_container.now())
    assert edition_id is not None
    now = mail_container.now()
    hour_ago = now - timedelta(hours=1)
    with mail_container.session_factory() as session:
        ranges = ledger.cut_batches(session, edition_id, size=4, now=now, stale_before=hour_ago,
                                    epoch="e1")
        ids = list(session.scalars(select(DeliveryRow.id).order_by(DeliveryRow.id)))
        again = ledger.cut_batches(session, edition_id, size=4, now=now, stale_before=hour_ago,
                                   epoch="e1")
        lost = ledger.cut_batches(session, edition_id, size=4, now=now, stale_before=hour_ago,
                                  epoch="e2")
    assert [sum(lo <= i <= hi for i in ids) for lo, hi in ranges] == [4, 4, 2]
    assert again == []  # handed to this broker already: its queue still holds them
    assert lost == ranges  # that broker lost its queue (a new epoch): cut and handed over again


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_new_edition_is_stored_enqueued_and_cut_by_one_read(
    backend: str, make_container: Callable[..., Any], smtp_sink: SmtpSink, request: pytest.FixtureRequest
) -> None:
    db = {} if backend == "sqlite" else {"database_url": request.getfixturevalue("pg_url")}
    container = make_container(smtp_url=smtp_sink.url, base_url="https://news.example.com", **db)
    lst = make_list(container)
    add_active(container, lst, [f"r{n}@example.com" for n in range(10)])
    publish_sample(container)
    editions = SqlEditionStore(container.session_factory)
    now = container.now()
    edition_id = create_edition(editions, lst, frequency=Frequency.DAILY, now=now, epoch="e1")
    assert edition_id is not None
    store = container.deliveries()
    ranges = store.fresh_batches(edition_id, size=4, epoch="e1", at=now)
    with container.session_factory() as session:
        rows = session.execute(select(DeliveryRow.id, DeliveryRow.enqueued_epoch, DeliveryRow.enqueued_at)
                               .order_by(DeliveryRow.id)).all()
        if backend == "postgresql":  # stored once: every row is still the version its insert wrote
            versions = session.execute(text(
                "SELECT count(DISTINCT xmin::text) FROM deliveries UNION ALL "
                "SELECT count(*) FROM deliveries d JOIN editions e ON d.xmin::text = e.xmin::text"
            )).scalars().all()
            assert versions == [1, 10]
        assert ledger.cut_batches(session, edition_id, size=4, now=now, stale_before=now - timedelta(hours=1),
                                  epoch="e1") == []  # handed to this broker: nothing to cut again
    ids = [r.id for r in rows]
    assert ranges == [(ids[0], ids[3]), (ids[4], ids[7]), (ids[8], ids[9])]
    assert {(r.enqueued_epoch, r.enqueued_at) for r in rows} == {("e1", now)}
    # Only the rows this call stored: another time or epoch (an edition found by its dedupe key,
    # rows a sweep marked) has no fresh batches.
    assert store.fresh_batches(edition_id, size=4, epoch="e1", at=now + timedelta(microseconds=1)) == []
    assert store.fresh_batches(edition_id, size=4, epoch="e2", at=now) == []
    store.claim(edition_id, lst.id, ids[0], ids[3], now=now)
    assert store.fresh_batches(edition_id, size=4, epoch="e1", at=now) == [(ids[4], ids[7]), (ids[8], ids[9])]
    # Without an epoch (the broker did not answer) rows are stored never enqueued, for the sweep.
    second = create_edition(editions, lst, frequency=Frequency.DAILY, now=now + timedelta(minutes=1),
                            since=now - timedelta(days=1))
    assert second is not None
    with container.session_factory() as session:
        assert session.scalars(select(DeliveryRow.enqueued_epoch).where(
            DeliveryRow.edition_id == second).distinct()).all() == [None]


def test_each_subscriber_gets_one_message_and_a_second_run_sends_nothing(
    mail_container: Any, smtp_sink: SmtpSink
) -> None:
    lst = make_list(mail_container)
    emails = [f"reader{n}@example.com" for n in range(10)]
    add_active(mail_container, lst, emails)
    publish_sample(mail_container)
    edition_id = mail_container.digests.send_now("world")
    assert edition_id is not None
    counts = run_all(mail_container, edition_id)
    assert counts["sent"] == 10
    assert sorted(smtp_sink.recipients()) == sorted(emails)
    # Every batch again, and the sweep: nothing is mailed twice.
    with mail_container.session_factory() as session:
        ids = list(session.scalars(select(DeliveryRow.id).order_by(DeliveryRow.id)))
    mail_container.digests.send_batch(edition_id, ids[0], ids[-1])
    assert mail_container.digests.sweep() == 0
    assert len(smtp_sink.received) == 10
    msg = smtp_sink.messages()[0]
    assert SAMPLE_TITLE in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert msg["List-Unsubscribe"].startswith("<https://news.example.com/unsubscribe/")
    assert msg["Message-ID"].endswith("@news.example.com>")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_451_is_retried_and_550_bounces_and_suppresses(
    backend: str, make_container: Callable[..., Any], smtp_sink: SmtpSink, request: pytest.FixtureRequest
) -> None:
    # On PostgreSQL the outcomes go through the group writer (RECORD_MANY_PG and, for the
    # bounce, its suppressing twin); on SQLite through one transaction per outcome.
    options = {"database_url": request.getfixturevalue("pg_url")} if backend == "postgresql" else {}
    mail_container = make_container(smtp_url=smtp_sink.url, base_url="https://news.example.com",
                                    mail_batch_size=4, mail_retry_seconds=0.0, **options)
    lst = make_list(mail_container)
    add_active(mail_container, lst, ["ok@example.com", "later@example.com", "gone@example.com"])
    smtp_sink.replies = {"later@example.com": ["451 4.7.1 greylisted"],
                         "gone@example.com": ["550 5.1.1 no such user"]}
    publish_sample(mail_container)
    edition_id = mail_container.digests.send_now("world")
    assert edition_id is not None
    first = run_all(mail_container, edition_id)
    assert (first["sent"], first["queued"], first["bounced"]) == (1, 1, 1)
    assert mail_container.digests.sweep() == 1  # the retry is due at once (retry base 0 s)
    final = run_all(mail_container, edition_id)
    assert (final["sent"], final["queued"], final["bounced"]) == (2, 0, 1)
    assert sorted(smtp_sink.recipients()) == ["later@example.com", "ok@example.com"]
    with mail_container.session_factory() as session:
        gone = session.scalar(select(SubscriberRow).where(SubscriberRow.email == "gone@example.com"))
        later = session.scalar(select(DeliveryRow).join(SubscriberRow).where(
            SubscriberRow.email == "later@example.com"))
        assert gone is not None and gone.status == "bounced"
        assert later is not None and later.attempts == 2 and later.last_reply.startswith("250")
        assert later.sent_at is not None and later.claim is None
        history = session.execute(select(DeliveryAttemptRow.state, DeliveryAttemptRow.reply).where(
            DeliveryAttemptRow.delivery_id == later.id).order_by(DeliveryAttemptRow.id)).all()
        assert [(state, reply[:3]) for state, reply in history] == [("queued", "451"), ("sent", "250")]
    # The bounced address is suppressed from the next edition.
    mail_container.articles.ingest({"title": "Second story", "body_text": "More news."})
    second = mail_container.digests.send_now("world")
    assert second is not None
    assert run_all(mail_container, second)["sent"] == 2
    assert "gone@example.com" not in smtp_sink.recipients()


def test_the_outcome_statement_is_planned_once_on_postgresql(
    make_container: Callable[..., Any], smtp_sink: SmtpSink, pg_url: str
) -> None:
    # One connection, so one outcome per statement: it runs 30 times on the recording
    # connection. psycopg prepares it after its fifth run; from then on PostgreSQL must reuse
    # one plan. Its default plans each run for its parameters first (5 times here), and may go
    # on doing so: in a 20,000-reader send it planned every one of 5,683 runs.
    c = make_container(smtp_url=smtp_sink.url, database_url=pg_url, mail_batch_size=10,
                       smtp_connections=1)
    add_active(c, make_list(c), [f"reader{n}@example.com" for n in range(30)])
    publish_sample(c)
    edition_id = c.digests.send_now("world")
    assert edition_id is not None
    assert run_all(c, edition_id)["sent"] == 30
    with c.recording_engine.connect() as conn:  # the pool's one connection: the writer's
        plans = conn.execute(text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%json_to_recordset%'")).all()
    assert len(plans) == 1
    generic, custom = plans[0]
    assert generic >= 20 and custom == 0


def test_4xx_gives_up_after_max_attempts(make_container: Callable[..., Any], smtp_sink: SmtpSink) -> None:
    c = make_container(smtp_url=smtp_sink.url, mail_retry_seconds=0.0, mail_max_attempts=2)
    add_active(c, make_list(c), ["busy@example.com"])
    smtp_sink.replies = {"busy@example.com": ["452 full", "452 still full"]}
    publish_sample(c)
    edition_id = c.digests.send_now("world")
    assert edition_id is not None
    run_all(c, edition_id)
    assert run_all(c, edition_id)["failed"] == 1
    assert c.digests.resend(edition_id, mode="failed-only") == 1
    assert run_all(c, edition_id)["sent"] == 1


def test_resend_touches_exactly_the_rows_named(mail_container: Any, smtp_sink: SmtpSink) -> None:
    add_active(mail_container, make_list(mail_container), ["a@example.com", "b@example.com"])
    publish_sample(mail_container)
    edition_id = mail_container.digests.send_now("world")
    assert edition_id is not None
    run_all(mail_container, edition_id)
    assert mail_container.digests.resend(edition_id, mode="failed-only") == 0
    assert mail_container.digests.resend(edition_id, mode="to", email="b@example.com") == 1
    run_all(mail_container, edition_id)
    assert smtp_sink.recipients().count("b@example.com") == 2
    assert smtp_sink.recipients().count("a@example.com") == 1
    assert mail_container.digests.resend(edition_id, mode="all") == 2
    assert run_all(mail_container, edition_id)["sent"] == 2
    assert len(smtp_sink.received) == 5


def test_unsubscribed_between_planning_and_sending_is_skipped(
    mail_container: Any, smtp_sink: SmtpSink
) -> None:
    add_active(mail_container, make_list(mail_container), ["stay@example.com", "leave@example.com"])
    publish_sample(mail_container)
    edition_id = mail_container.digests.send_now("world")
    assert edition_id is not None
    with mail_container.session_factory() as session:
        row = session.scalar(select(SubscriberRow).where(SubscriberRow.email == "leave@example.com"))
        assert row is not None
        row.status = "unsubscribed"
        session.commit()
    counts = run_all(mail_container, edition_id)
    assert (counts["sent"], counts["skipped"]) == (1, 1)
    assert smtp_sink.recipients() == ["stay@example.com"]


def test_edition_filters_articles_once_each_and_empty_editions_are_not_built(mail_container: Any) -> None:
    c = mail_container
    lst = make_list(c, categories=["politics", "security"], language="en")
    add_active(c, lst, ["r@example.com"])
    assert c.digests.send_now("world") is None  # no article yet
    c.articles.ingest({"title": "Both", "body_text": "x", "categories": ["politics", "security"]})
    c.articles.ingest({"title": "Other", "body_text": "x", "categories": ["sport"]})
    c.articles.ingest({"title": "Russian", "body_text": "x", "categories": ["politics"], "language": "ru"})
    edition_id = create_edition(SqlEditionStore(c.session_factory), lst, frequency=Frequency.DAILY,
                                now=c.now())
    assert edition_id is not None
    with c.session_factory() as session:
        edition = session.get(EditionRow, edition_id)
        assert edition is not None
        titles = session.scalar(select(EditionRow.subject).where(EditionRow.id == edition.id))
        assert len(edition.article_ids) == 1 and titles == "World news: Both"
    assert c.digests.send_now("world") is None  # nothing new since that edition


def test_a_list_language_is_a_range_and_must_be_a_language_tag(counted_container: Any) -> None:
    c = counted_container
    lst = make_list(c, language="ru")
    add_active(c, lst, ["r@example.com"])
    for title, language in (("Moscow", "ru-RU"), ("Minsk", "RU"), ("London", "en"), ("Kyiv", "rue")):
        c.articles.ingest({"title": title, "body_text": "x", "language": language})
    edition_id = create_edition(SqlEditionStore(c.session_factory), lst, frequency=Frequency.DAILY,
                                now=c.now())
    assert edition_id is not None
    with c.session_factory() as session:
        edition = session.get(EditionRow, edition_id)
        assert edition is not None
        chosen = select(ArticleRow.title).where(ArticleRow.id.in_(edition.article_ids))
        titles = sorted(session.scalars(chosen))
    assert titles == ["Minsk", "Moscow"]  # 'rue' (Rusyn) is another language, not a region of 'ru'
    with pytest.raises(InvalidDigestInput, match="'r%' is not a language tag"):
        make_list(c, slug="bad", language="r%")


def test_instant_lists_mail_each_published_article_once(mail_container: Any, smtp_sink: SmtpSink) -> None:
    c = mail_container
    add_active(c, make_list(c, slug="alerts", frequency="instant"), ["fast@example.com"])
    add_active(c, make_list(c, slug="daily"), ["slow@example.com"])
    article = publish_sample(c)
    event = ArticleEvent(event_id=1, type=ARTICLE_PUBLISHED, article_id=article.id, guid=article.guid)
    on_article_published(event, digests=c.digests)
    on_article_published(event, digests=c.digests)  # at-least-once delivery of the event
    with c.session_factory() as session:
        editions = list(session.scalars(select(EditionRow)))
    assert [(e.frequency, e.dedupe_key) for e in editions] == [("instant", f"instant:{article.id}")]
    assert run_all(c, editions[0].id)["sent"] == 1
    assert smtp_sink.recipients() == ["fast@example.com"]
    assert "<p>" in smtp_sink.messages()[0].get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_beat_builds_each_frequency_once_for_its_own_subscribers(
    make_container: Callable[..., Any], smtp_sink: SmtpSink
) -> None:
    from datetime import UTC, datetime

    monday_9 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    c = make_container(smtp_url=smtp_sink.url, digest_hour=8, digest_weekday=0)
    c.now = lambda: monday_9
    lst = make_list(c, custom_frequency=True)
    add_active(c, lst, ["daily@example.com", "weekly@example.com"])
    with c.session_factory() as session:
        weekly = session.scalar(select(SubscriberRow).where(SubscriberRow.email == "weekly@example.com"))
        sub = session.get(SubscriptionRow, (weekly.id, lst.id))  # type: ignore[union-attr]
        sub.frequency = "weekly"  # type: ignore[union-attr]
        session.commit()
    c.articles.ingest({"title": "Monday story", "body_text": "News.",
                       "published_at": "2026-11-30T06:00:00+00:00"})
    built = c.digests.build_due()
    assert c.digests.build_due() == []  # beat runs every few minutes: once per day/week only
    with c.session_factory() as session:
        rows = session.scalars(select(EditionRow).where(EditionRow.id.in_(built)))
        editions = {e.frequency: e for e in rows}
    assert set(editions) == {"daily", "weekly"}
    assert editions["weekly"].dedupe_key == "weekly:2026-W49"
    for edition in editions.values():
        run_all(c, edition.id)
    got = sorted((m["To"], m["Subject"].strip()) for m in smtp_sink.messages())
    assert got == [("daily@example.com", "World news: Monday story"),
                   ("weekly@example.com", "World news: Monday story")]


@pytest.mark.parametrize("pipelining", [True, False], ids=["selector-loop", "threads"])
def test_a_batch_stopped_by_an_error_records_what_it_sent_and_requeues_the_rest(
    mail_container: Any, smtp_sink: SmtpSink, pipelining: bool
) -> None:
    smtp_sink.pipelining = pipelining  # without PIPELINING the engine runs a thread per connection
    c = mail_container
    add_active(c, make_list(c), [f"r{n}@example.com" for n in range(5)])
    publish_sample(c)
    edition_id = c.digests.send_now("world")
    assert edition_id is not None

    class Breaks:
        """A send pace that fails from the third message on (nothing of it went out)."""

        def __init__(self) -> None:
            self.waits = itertools.count()

        def wait(self) -> None:
            if next(self.waits) >= 2:
                raise RuntimeError("disk full")

    digests = c.digests
    mailer = replace(c.mailer, pace=Breaks(), idle=None)
    breaking = replace(digests.fanout, mailer=mailer)
    with pytest.raises(RuntimeError, match="disk full"):
        breaking.send_batch(edition_id, 0, 2**62)
    counts = c.digests.edition_counts(edition_id)
    assert (counts["sent"], counts["queued"], counts["sending"]) == (2, 3, 0)
    assert run_all(c, edition_id)["sent"] == 5
    assert len(smtp_sink.received) == 5


def test_send_rate_counter_is_shared_through_redis(redis_server: str) -> None:
    import uuid

    import redis

    from syndicate.digests.ratelimit import RedisCounter

    key = f"test-{uuid.uuid4().hex}"
    a, b = RedisCounter(redis.Redis.from_url(redis_server)), RedisCounter(redis.Redis.from_url(redis_server))
    assert [a.hit(key, 3600), b.hit(key, 3600), a.hit(key, 3600, 5)] == [1, 2, 7]


@pytest.fixture(params=["sqlite", "postgresql"])
def counted_container(request: pytest.FixtureRequest, make_container: Callable[..., Any],
                      smtp_sink: SmtpSink) -> Any:
    options: dict[str, Any] = {"smtp_url": smtp_sink.url, "base_url": "https://news.example.com"}
    if request.param == "postgresql":
        options["database_url"] = request.getfixturevalue("pg_url")
    return make_container(**options)


def expected(**found: int) -> dict[str, int]:
    return dict.fromkeys(ledger.STATES, 0) | found


def stored_counts(container: Any, edition_id: int) -> dict[str, int] | None:
    with container.session_factory() as session:
        return session.get(EditionRow, edition_id).settled_counts  # type: ignore[no-any-return, union-attr]


def test_settled_counts_are_stored_once_and_a_resend_clears_them(counted_container: Any) -> None:
    c = counted_container
    add_active(c, make_list(c), ["a@example.com", "b@example.com", "c@example.com"])
    publish_sample(c)
    edition_id = c.digests.send_now("world")
    assert edition_id is not None
    with c.session_factory() as session:
        assert ledger.counts_many(session, [edition_id])[edition_id]["queued"] == 3
    assert stored_counts(c, edition_id) is None  # still moving: nothing stored

    run_all(c, edition_id)
    with c.session_factory() as session:
        assert ledger.counts_many(session, [edition_id])[edition_id]["sent"] == 3
    assert stored_counts(c, edition_id) == expected(sent=3)

    # Stored counts are what later calls read: they no longer count the rows.
    with c.session_factory() as session:
        session.execute(update(DeliveryRow).values(last_reply="touched"))
        session.commit()
        assert ledger.counts_many(session, [edition_id]) == {edition_id: expected(sent=3)}

    assert c.digests.resend(edition_id, mode="to", email="b@example.com") == 1
    assert stored_counts(c, edition_id) is None
    with c.session_factory() as session:
        counts = ledger.counts_many(session, [edition_id])[edition_id]
    assert (counts["queued"], counts["sent"]) == (1, 2)
    run_all(c, edition_id)
    with c.session_factory() as session:
        assert ledger.counts_many(session, [edition_id])[edition_id]["sent"] == 3
    assert stored_counts(c, edition_id) == expected(sent=3)


def test_counts_taken_before_a_resend_are_not_stored_after_it(
    counted_container: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = counted_container
    add_active(c, make_list(c), ["a@example.com"])
    publish_sample(c)
    edition_id = c.digests.send_now("world")
    assert edition_id is not None
    run_all(c, edition_id)
    live_counts = ledger._live_counts

    def counted_then_resent(session: Any, ids: Any) -> Any:
        found = live_counts(session, ids)  # settled: sent=1
        assert c.digests.resend(edition_id, mode="all") == 1  # an admin resends meanwhile
        return found

    monkeypatch.setattr(ledger, "_live_counts", counted_then_resent)
    with c.session_factory() as session:
        assert ledger.counts_many(session, [edition_id])[edition_id]["sent"] == 1
    monkeypatch.undo()
    assert stored_counts(c, edition_id) is None
    with c.session_factory() as session:
        assert ledger.counts_many(session, [edition_id])[edition_id]["queued"] == 1


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_history_is_append_only_and_readers_who_left_are_never_offered_again(
    backend: str, make_container: Callable[..., Any], smtp_sink: SmtpSink, request: pytest.FixtureRequest
) -> None:
    options = {"database_url": request.getfixturevalue("pg_url")} if backend == "postgresql" else {}
    c = make_container(smtp_url=smtp_sink.url, mail_retry_seconds=0.0, mail_max_attempts=2, **options)
    add_active(c, make_list(c), ["busy@example.com", "Gone@example.com"])
    smtp_sink.replies = {"busy@example.com": ["452 full", "452 still full"],
                         "Gone@example.com": ["550 5.1.1 no such user"]}
    publish_sample(c)
    edition_id = c.digests.send_now("world")
    assert edition_id is not None
    run_all(c, edition_id)
    assert run_all(c, edition_id)["failed"] == 1
    assert c.digests.resend(edition_id, mode="failed-only") == 1
    counts = run_all(c, edition_id)
    assert (counts["sent"], counts["bounced"]) == (1, 1)
    rows = {d.email: d for d in c.digest_reads.deliveries(edition_id=edition_id)}
    history = c.digest_reads.attempts_of([d.id for d in rows.values()])
    # The resend added an attempt; the two failures before it are still there, in order.
    assert [(a.state, (a.reply or "")[:3]) for a in history[rows["busy@example.com"].id]] == [
        ("queued", "452"), ("failed", "452"), ("sent", "250")]
    assert [a.state for a in history[rows["Gone@example.com"].id]] == ["bounced"]
    # The bounced reader is suppressed: the admin offers no resend, and the use case refuses it,
    # whatever the case of the address given.
    assert rows["busy@example.com"].resendable and not rows["Gone@example.com"].resendable
    with pytest.raises(InvalidDigestInput, match="is bounced; a reader who left or was suppressed"):
        c.digests.resend(edition_id, mode="to", email="gone@EXAMPLE.com")
    assert c.digests.resend(edition_id, mode="to", email="BUSY@example.com") == 1


class _DropsOneConnection(SmtpSink):
    """Cuts the connection carrying the `drop_at`-th message, before answering its data."""

    drop_at = 7
    seen = 0
    dropped: tuple[str, ...] = ()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.seen += 1
            drop = self.seen == self.drop_at
            if drop:
                self.dropped = tuple(envelope.rcpt_tos)
        if drop:
            server.transport.close()  # the message was not taken: no 250 ever comes
            return "451 never read"
        return await super().handle_DATA(server, session, envelope)


def test_a_pool_connection_dropped_mid_batch_sends_only_its_own_message_again(
    make_container: Callable[..., Any], pg_url: str
) -> None:
    from tests.conftest import free_port

    with serving(_DropsOneConnection(port=free_port())) as sink:
        c = make_container(smtp_url=sink.url, base_url="https://news.example.com", database_url=pg_url,
                           mail_batch_size=100, smtp_connections=10)
        emails = [f"reader{n}@example.com" for n in range(40)]
        add_active(c, make_list(c), emails)
        publish_sample(c)
        edition_id = c.digests.send_now("world")
        assert edition_id is not None
        counts = run_all(c, edition_id)
    assert len(sink.dropped) == 1  # one of the ten connections was cut while its message was under way
    assert counts["sent"] == 40 and counts["queued"] == counts["sending"] == 0
    assert sorted(sink.recipients()) == sorted(emails)  # each address exactly once
    with c.session_factory() as session:
        attempts = dict(session.execute(
            select(SubscriberRow.email, DeliveryRow.attempts)
            .join(DeliveryRow, DeliveryRow.subscriber_id == SubscriberRow.id)).all())
    assert set(attempts.values()) == {1}  # sent again on a new connection, within its one attempt
