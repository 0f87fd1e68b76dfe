"""Lists and subscribers on the fake unit of work: list rules, CSV import, admin suppression."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicate.digests import subscribers as subs
from syndicate.digests.ports import NewEdition, Subscription
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
    suppressed = subs.suppress(FakeDigestUnitOfWork(db), reader.id, now=NOW, by="admin",
                               reason="  asked   by phone ")
    # Suppressed, not "complained": nobody complained; who and why are kept.
    assert suppressed.status == SubscriberStatus.SUPPRESSED
    assert suppressed.status_reason == "suppressed by admin: asked by phone"
    assert db.by_email("boris@example.org").status == SubscriberStatus.SUPPRESSED
    assert [(d.state, d.last_reply) for d in db.deliveries.values()] == [
        (DeliveryState.SKIPPED, "suppressed by admin: asked by phone")]
    # The next edition has nobody to go to.
    assert editions.add(NewEdition(lst.id, Frequency.DAILY, None, NOW, NOW, (article.id,), "s"), lst,
                        now=NOW) is None
    with pytest.raises(NotFound, match="subscriber 999"):
        subs.suppress(FakeDigestUnitOfWork(db), 999, now=NOW)


def test_a_suppression_without_a_reason_still_names_who(db: FakeDigestDb) -> None:
    reader = db.add_reader("ann@example.org", db.add_list())
    done = subs.suppress(FakeDigestUnitOfWork(db), reader.id, now=NOW, by="admin API")
    assert (done.status, done.status_reason) == (SubscriberStatus.SUPPRESSED, "suppressed by admin API")


def test_a_suppressed_reader_stays_suppressed_through_an_import_and_the_confirm_link(
    db: FakeDigestDb, tmp_path: Path
) -> None:
    lst = db.add_list()
    reader = db.add_reader("gone@example.org", lst)
    subs.suppress(FakeDigestUnitOfWork(db), reader.id, now=NOW)
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("email\ngone@example.org\n")
    report = import_subscribers(FakeDigestUnitOfWork(db), csv_path, lst=lst, confirmed=False, now=NOW).report
    assert report.to_confirm == []  # no confirmation mail either
    import_subscribers(FakeDigestUnitOfWork(db), csv_path, lst=lst, confirmed=True, now=NOW)
    assert db.by_email("gone@example.org").status == SubscriberStatus.SUPPRESSED


@pytest.mark.parametrize(("subscriber", "subscription", "shown"), [
    (SubscriberStatus.ACTIVE, SubscriptionStatus.ACTIVE, "active"),
    (SubscriberStatus.ACTIVE, SubscriptionStatus.UNSUBSCRIBED, "unsubscribed"),
    (SubscriberStatus.PENDING, SubscriptionStatus.PENDING, "pending"),
    (SubscriberStatus.BOUNCED, SubscriptionStatus.ACTIVE, "bounced"),
    (SubscriberStatus.COMPLAINED, SubscriptionStatus.ACTIVE, "complained"),
    (SubscriberStatus.SUPPRESSED, SubscriptionStatus.ACTIVE, "suppressed"),
    (SubscriberStatus.UNSUBSCRIBED, SubscriptionStatus.ACTIVE, "unsubscribed"),
])
def test_the_export_status_is_what_the_reader_really_gets(
    db: FakeDigestDb, subscriber: SubscriberStatus, subscription: SubscriptionStatus, shown: str,
) -> None:
    lst = db.add_list()
    reader = db.add_reader("ann@example.org", lst, status=subscriber)
    assert subs.reader_status(reader, Subscription(reader.id, lst.id, subscription)) == shown


def test_an_unknown_language_is_reported_and_a_valid_one_stored_canonical(
    db: FakeDigestDb, tmp_path: Path
) -> None:
    lst = db.add_list()
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("email,language\nann@example.org,EN_us\nbob@example.org,klingonish\n"
                        "bob@example.org,ru\ncid@example.org,\n")
    report = import_subscribers(FakeDigestUnitOfWork(db), csv_path, lst=lst, confirmed=True, now=NOW).report
    assert [e.split(": ", 1)[1] for e in report.errors] == [
        "line 3: language 'klingonish' is not a language tag such as en or ru-RU"]
    assert report.imported == 3
    assert {a: db.by_email(a).language for a in ("ann@example.org", "bob@example.org", "cid@example.org")} \
        == {"ann@example.org": "en-US", "bob@example.org": "ru", "cid@example.org": "en"}


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


def test_an_address_in_another_case_is_the_same_reader_and_the_import_says_so(
    db: FakeDigestDb, tmp_path: Path
) -> None:
    lst = db.add_list()
    db.add_reader("alice@example.org", lst)
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("email\nALICE@example.org\nBob@example.org\nbob@example.org\n")
    report = import_subscribers(FakeDigestUnitOfWork(db), csv_path, lst=lst, confirmed=True, now=NOW).report
    assert (report.imported, report.existing) == (1, 1) and len(db.subscribers) == 2
    assert report.notes == ["line 2: 'ALICE@example.org' is the reader 'alice@example.org' already "
                            "(one reader per address, whatever its case)"]
    assert [e.split(": ", 1)[1] for e in report.errors] == [
        "line 4: email 'bob@example.org' repeats an earlier line"]
