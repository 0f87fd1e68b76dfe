"""Stories in digests on PostgreSQL with a real SMTP server on loopback: a reader gets one entry
per story in their language, and one copy of a story across every list they read."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select

from syndicate.digests import subscribers as subs
from syndicate.digests.batch import NOTHING_NEW
from syndicate.storage.digest_models import DeliveryRow, MailedStoryRow
from tests.conftest import run_cli
from tests.integration.digest_helpers import SmtpSink, add_active, make_list

pytest_plugins = ["tests.integration.conftest_digests"]

EN_TITLE = "Statement on the river treaty"
RU_TITLE = "Заявление о договоре по реке"
OTHER_TITLE = "Weather service moves to a new building"


@pytest.fixture
def pg_mail(make_container: Callable[..., Any], smtp_sink: SmtpSink, pg_url: str) -> Any:
    return make_container(database_url=pg_url, smtp_url=smtp_sink.url,
                          base_url="https://news.example.com", mail_retry_seconds=0.0)


def publish(container: Any, guid: str, title: str, language: str, minutes_ago: int,
            translation_of: str | None = None) -> Any:
    when = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()
    data = {"guid": guid, "title": title, "body_text": f"{title}. " * 5, "language": language,
            "published_at": when}
    if translation_of:
        data["translation_of"] = translation_of
    return container.articles.ingest(data).article


def send(container: Any, slug: str) -> int | None:
    edition_id = container.digests.send_now(slug)
    if edition_id is not None:
        container.digests.send_batch(edition_id, 0, 2**62)
    return edition_id


def mails_to(sink: SmtpSink, address: str) -> list[EmailMessage]:
    return [m for m in sink.messages() if m["To"] == address]


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def reader(container: Any, email: str, language: str, first: Any, *more: Any) -> None:
    """A confirmed reader of `first` and every list in `more`."""
    add_active(container, first, [email], language=language)
    with container.digest_uow() as work:
        subs.add_subscriber(work, email=email, name="", language=language, lists=list(more),
                            confirmed=True, now=container.now())
        work.commit()


def test_a_russian_reader_of_two_lists_gets_the_story_once_in_russian(
    pg_mail: Any, smtp_sink: SmtpSink
) -> None:
    c = pg_mail
    statements, news = make_list(c, "statements", name="Statements"), make_list(c, "news", name="All news")
    reader(c, "ivan@example.org", "ru", statements, news)
    reader(c, "jane@example.org", "en", statements, news)
    publish(c, "tag:ministry,2026:river", EN_TITLE, "en", minutes_ago=9)
    publish(c, "tag:ministry,2026:river-ru", RU_TITLE, "ru", minutes_ago=4,
            translation_of="tag:ministry,2026:river")
    publish(c, "tag:ministry,2026:weather", OTHER_TITLE, "en", minutes_ago=2)

    first = send(c, "statements")
    assert first is not None
    [ivan] = mails_to(smtp_sink, "ivan@example.org")
    [jane] = mails_to(smtp_sink, "jane@example.org")
    ivan_html, jane_html = html_of(ivan), html_of(jane)
    # One entry for the story, in the reader's language; the other story as it is.
    assert RU_TITLE in ivan_html and EN_TITLE not in ivan_html and OTHER_TITLE in ivan_html
    assert EN_TITLE in jane_html and RU_TITLE not in jane_html and OTHER_TITLE in jane_html

    second = send(c, "news")
    assert second is not None
    # Both stories already went to both readers through "statements": no second copy.
    assert len(mails_to(smtp_sink, "ivan@example.org")) == 1
    assert len(mails_to(smtp_sink, "jane@example.org")) == 1
    counts = c.digests.edition_counts(second)
    assert counts["skipped"] == 2 and counts["sent"] == 0
    with c.session_factory() as session:
        replies = set(session.scalars(select(DeliveryRow.last_reply).where(DeliveryRow.edition_id == second)))
        mailed = session.execute(select(MailedStoryRow.story, MailedStoryRow.article_id)
                                 .order_by(MailedStoryRow.story)).all()
    assert replies == {NOTHING_NEW}
    # The ledger names each story once per reader, keyed by the original's guid.
    assert sorted({story for story, _ in mailed}) == ["tag:ministry,2026:river", "tag:ministry,2026:weather"]
    assert len(mailed) == 4

    # A resend of the first edition to Ivan sends exactly what he had: the Russian version.
    assert c.digests.resend(first, mode="to", email="ivan@example.org") == 1
    c.digests.send_batch(first, 0, 2**62)
    again = mails_to(smtp_sink, "ivan@example.org")
    assert len(again) == 2
    assert RU_TITLE in html_of(again[1]) and EN_TITLE not in html_of(again[1])
    assert again[1]["Subject"] == ivan["Subject"]


def test_a_repeat_stories_list_mails_a_story_again(pg_mail: Any, smtp_sink: SmtpSink) -> None:
    c = pg_mail
    statements = make_list(c, "statements", name="Statements")
    weekly = make_list(c, "weekly", name="Weekly round-up")
    reader(c, "ivan@example.org", "ru", statements, weekly)
    publish(c, "tag:ministry,2026:river", EN_TITLE, "en", minutes_ago=9)
    publish(c, "tag:ministry,2026:river-ru", RU_TITLE, "ru", minutes_ago=4,
            translation_of="tag:ministry,2026:river")
    send(c, "statements")
    assert send(c, "weekly") is not None
    assert len(mails_to(smtp_sink, "ivan@example.org")) == 1  # not a round-up yet: nothing new

    marked = subs.set_repeat_stories(c.digest_uow, "weekly", True)
    assert marked.repeat_stories and subs.list_by_slug(c.digest_uow, "weekly").repeat_stories
    c.digests.send_now("weekly", since=datetime.now(UTC) - timedelta(hours=1))
    for edition_id in _editions_of(c):
        c.digests.send_batch(edition_id, 0, 2**62)
    got = mails_to(smtp_sink, "ivan@example.org")
    assert len(got) == 2
    assert RU_TITLE in html_of(got[1]) and EN_TITLE not in html_of(got[1])
    # A round-up repeats other lists, not itself: its next edition with the story is nothing new.
    publish(c, "tag:ministry,2026:river-uk", "Заява щодо договору", "uk", minutes_ago=1,
            translation_of="tag:ministry,2026:river-ru")
    later = c.digests.send_now("weekly", since=datetime.now(UTC) - timedelta(minutes=2))
    assert later is not None
    c.digests.send_batch(later, 0, 2**62)
    assert len(mails_to(smtp_sink, "ivan@example.org")) == 2
    assert c.digests.edition_counts(later)["skipped"] == 1


def test_two_lists_sending_at_the_same_moment_mail_each_story_once(pg_mail: Any, smtp_sink: SmtpSink) -> None:
    c = pg_mail
    first, second = make_list(c, "statements", name="Statements"), make_list(c, "news", name="All news")
    emails = [f"reader{n}@example.org" for n in range(40)]
    add_active(c, first, emails, language="ru")
    with c.digest_uow() as work:
        for email in emails:
            subs.add_subscriber(work, email=email, name="", language="ru", lists=[second], confirmed=True,
                                now=c.now())
        work.commit()
    publish(c, "tag:ministry,2026:river", EN_TITLE, "en", minutes_ago=9)
    publish(c, "tag:ministry,2026:river-ru", RU_TITLE, "ru", minutes_ago=4,
            translation_of="tag:ministry,2026:river")
    editions = [c.digests.send_now("statements"), c.digests.send_now("news")]
    assert None not in editions
    start = threading.Barrier(2)

    def run(edition_id: int) -> None:
        start.wait()
        c.digests.send_batch(edition_id, 0, 2**62)

    threads = [threading.Thread(target=run, args=(e,)) for e in editions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(smtp_sink.recipients()) == sorted(emails)  # each reader once, whichever list won
    assert all(RU_TITLE in html_of(m) for m in smtp_sink.messages())
    counts = [c.digests.edition_counts(e) for e in editions]
    assert sum(n["sent"] for n in counts) == 40 and sum(n["skipped"] for n in counts) == 40


def _editions_of(container: Any) -> list[int]:
    with container.session_factory() as session:
        return list(session.scalars(select(DeliveryRow.edition_id).distinct()))


def test_the_cli_marks_a_list_to_repeat_stories_and_back(embedded_env: dict[str, str]) -> None:
    assert run_cli(["db", "upgrade"], embedded_env).returncode == 0
    created = run_cli(["lists", "create", "weekly", "--name", "Weekly", "--frequency", "weekly",
                       "--repeat-stories"], embedded_env)
    assert created.returncode == 0, created.stderr
    shown = run_cli(["lists", "edit", "weekly"], embedded_env)
    assert shown.stdout.strip().endswith("\tweekly\trepeat_stories=true")
    changed = run_cli(["lists", "edit", "weekly", "--no-repeat-stories"], embedded_env)
    assert changed.returncode == 0 and changed.stdout.strip().endswith("repeat_stories=false")
    missing = run_cli(["lists", "edit", "nope", "--repeat-stories"], embedded_env)
    assert missing.returncode != 0 and "nope" in missing.stderr
