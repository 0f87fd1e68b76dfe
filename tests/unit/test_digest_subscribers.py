"""Lists and subscribers on the fake unit of work: list rules, CSV import, admin suppression."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicate.digests import subscribers as subs
from syndicate.digests.ports import NewEdition
from syndicate.digests.states import DeliveryState, Frequency, SubscriberStatus, SubscriptionStatus
from syndicate.errors import InvalidDigestInput, NotFound
from syndicate.ingest.subscribers_csv import import_subscribers
from tests.unit.fakes.digests import FakeDigestDb, FakeDigestUnitOfWork, FakeEditionStore

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
def db() -> FakeDigestDb:
    return FakeDigestDb()


def test_lists_need_a_free_slug_a_frequency_and_a_language_tag(db: FakeDigestDb) -> None:
    uow = FakeDigestUnitOfWork(db)
    made = subs.create_list(uow, slug="world", name=" World news ", frequency="weekly", language="ru",
                            categories=["a", "a", "b"], custom_frequency=False, now=NOW)
    assert (made.name, made.frequency, made.categories) == ("World news", Frequency.WEEKLY, ("a", "b"))
    assert subs.list_by_slug(uow, "world") == made
    for kwargs, message in (({"slug": "world"}, "'world' is already taken"),
                            ({"slug": "Bad Slug"}, "a-z 0-9"),
                            ({"frequency": "hourly"}, "frequency must be one of instant, daily, weekly"),
                            ({"language": "r%"}, "'r%' is not a language tag")):
        args = {"slug": "other", "frequency": "daily", "language": None} | kwargs
        with pytest.raises(InvalidDigestInput, match=message):
            subs.create_list(uow, name="N", categories=[], custom_frequency=False, now=NOW, **args)
    assert [lst.slug for lst in subs.all_lists(uow)] == ["world"]


def test_import_reports_bad_lines_keeps_the_rest_and_owes_pending_ones_a_mail(
    db: FakeDigestDb, tmp_path: Path
) -> None:
    lst = db.add_list()
    db.add_reader("gone@example.org", lst, status=SubscriberStatus.BOUNCED)
    db.add_reader("known@example.org", lst)
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("Email,Name,Language\nann@example.org,Ann,ru\nnot an address,,\n"
                        "ann@EXAMPLE.org,,\ngone@example.org,,\nknown@example.org,,\n\n")
    uow = FakeDigestUnitOfWork(db)
    found = subs.list_by_slug(uow, "world")
    assert found == lst
    report = import_subscribers(uow, csv_path, lst=found, confirmed=False, now=NOW).report
    assert (report.imported, report.existing) == (1, 2)
    assert [e.split(": ", 1)[1] for e in report.errors] == [
        "line 3: email 'not an address' is not an address of the form name@domain",
        "line 4: email 'ann@example.org' repeats an earlier line"]
    ann = db.by_email("ann@example.org")
    assert report.to_confirm == [ann.id]  # neither the suppressed nor the already active address
    assert (ann.name, ann.language, ann.status) == ("Ann", "ru", SubscriberStatus.PENDING)
    assert db.subscriptions[(db.by_email("known@example.org").id, lst.id)].status == SubscriptionStatus.ACTIVE


def test_a_confirmed_import_activates_but_never_unsuppresses(db: FakeDigestDb, tmp_path: Path) -> None:
    lst = db.add_list()
    db.add_reader("gone@example.org", status=SubscriberStatus.COMPLAINED)
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("email\nnew@example.org\ngone@example.org\n")
    import_subscribers(FakeDigestUnitOfWork(db), csv_path, lst=lst, confirmed=True, now=NOW)
    assert db.by_email("new@example.org").status == SubscriberStatus.ACTIVE
    assert db.by_email("gone@example.org").status == SubscriberStatus.COMPLAINED
    assert {s.status for s in db.subscriptions.values() if s.list_id == lst.id} == {SubscriptionStatus.ACTIVE}


def test_an_import_with_no_email_column_or_list_writes_nothing(db: FakeDigestDb, tmp_path: Path) -> None:
    lst = db.add_list()
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("address\nann@example.org\n")
    with pytest.raises(InvalidDigestInput, match="line 1: header row must name an 'email' column"):
        import_subscribers(FakeDigestUnitOfWork(db), csv_path, lst=lst, confirmed=True, now=NOW)
    with pytest.raises(NotFound, match="list 'nope'"):
        subs.list_by_slug(FakeDigestUnitOfWork(db), "nope")
    assert db.subscribers == {}


def test_a_long_import_commits_chunk_by_chunk_and_reports_progress(db: FakeDigestDb, tmp_path: Path) -> None:
    lst = db.add_list()
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("email\n" + "".join(f"reader{n}@example.org\n" for n in range(5)))
    seen: list[tuple[int, int]] = []
    done = import_subscribers(FakeDigestUnitOfWork(db), csv_path, lst=lst, confirmed=True, now=NOW,
                              chunk_rows=2, on_chunk=lambda p: seen.append((p.rows, p.report.imported)))
    assert seen == [(2, 2), (4, 4), (5, 5)]  # after each committed chunk: what a progress bar shows
    assert done.report.imported == 5 and len(db.subscribers) == 5


def test_suppressing_stops_all_mail_and_skips_queued_deliveries(db: FakeDigestDb) -> None:
    lst = db.add_list()
    reader = db.add_reader("boris@example.org", lst)
    article = db.add_article("Story", NOW - timedelta(hours=1))
    editions = FakeEditionStore(db)
    editions.add(NewEdition(lst.id, Frequency.DAILY, None, NOW - timedelta(days=1), NOW, (article.id,), "s"),
                 lst, now=NOW)
    suppressed = subs.suppress(FakeDigestUnitOfWork(db), reader.id, now=NOW)
    assert suppressed.status == SubscriberStatus.COMPLAINED
    assert suppressed.status_reason == "suppressed by an admin"
    assert [(d.state, d.last_reply) for d in db.deliveries.values()] == [
        (DeliveryState.SKIPPED, "suppressed by an admin")]
    # The next edition has nobody to go to.
    assert editions.add(NewEdition(lst.id, Frequency.DAILY, None, NOW, NOW, (article.id,), "s"), lst,
                        now=NOW) is None
    with pytest.raises(NotFound, match="subscriber 999"):
        subs.suppress(FakeDigestUnitOfWork(db), 999, now=NOW)


def test_list_filters_use_the_importers_slug_and_language_rules(db: FakeDigestDb) -> None:
    uow = FakeDigestUnitOfWork(db)
    made = subs.create_list(uow, slug="ru-news", name="RU", frequency="daily", language="RU_ru",
                            categories=[" World ", "world"], custom_frequency=False, now=NOW)
    # Stored as the articles store them, so the list's filters match the articles they mean.
    assert (made.language, made.categories) == ("ru-RU", ("world",))
    with pytest.raises(InvalidDigestInput, match="--category: 'not a slug' is not a category slug"):
        subs.create_list(uow, slug="x", name="X", frequency="daily", language=None,
                         categories=["not a slug"], custom_frequency=False, now=NOW)
    assert [lst.slug for lst in subs.all_lists(uow)] == ["ru-news"]
