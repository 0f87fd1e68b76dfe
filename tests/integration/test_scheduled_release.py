"""Scheduled release (embargo): a future published_at keeps an article off every public channel
until its time, then one `article.published` event, held in the database, releases it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from syndicate.domain.commands import HandleEvent
from syndicate.errors import InvalidArticle
from syndicate.feeds.service import feeds_root
from syndicate.services import outbox
from syndicate.services.publishing import Outcome
from syndicate.web.app import create_app
from tests.conftest import wait_for
from tests.unit.fakes.tasks import FakeTaskQueue


@pytest.fixture(params=["sqlite", "postgresql"])
def container(request: pytest.FixtureRequest, make_container: Callable[..., Any]) -> Any:
    if request.param == "postgresql":
        return make_container(database_url=request.getfixturevalue("pg_url"))
    return make_container()


def relay(container: Any) -> list[int]:
    """One beat sweep of the outbox; the ids of the events it handed over."""
    tasks = FakeTaskQueue()
    outbox.relay_pending(container.uow, tasks, now=container.clock)
    return [c.event_id for c in tasks.submitted if isinstance(c, HandleEvent)]


def public(container: Any, client: TestClient, slug: str) -> dict[str, bool]:
    """Where a reader could find the article right now."""
    container.feed_service().build_all()  # where FEED_STORE says: files, or the database
    if container.feed_documents is None:
        feeds = [p.read_text() for p in feeds_root(container.settings).rglob("*.xml")]
    else:
        feeds = [container.feed_documents.get(name)[1].body.decode() for name in ("rss.xml", "atom.xml")]
    return {
        "page": client.get(f"/news/{slug}").status_code == 200,
        "list": f"/news/{slug}" in client.get("/news").text,
        "feeds": any(slug in text for text in feeds),
        "sitemap": slug in client.get("/sitemap.xml").text,
    }


def test_a_future_article_is_hidden_until_its_time_then_released_once(container: Any) -> None:
    client = TestClient(create_app(container))
    release = datetime.now(UTC) + timedelta(seconds=4)
    made = container.articles.ingest({"guid": "urn:t:embargo", "title": "Embargoed statement",
                                      "body_text": "x", "published_at": release.isoformat()})
    slug = made.article.slug
    assert public(container, client, slug) == dict.fromkeys(("page", "list", "feeds", "sitemap"), False)
    assert relay(container) == []  # the event waits in the database, not in a broker
    assert container.article_reader.newest(limit=10, include_unpublished=True)[0].id == made.article.id
    admin = container.article_reader.by_id(made.article.id)
    assert admin is not None and admin.published_at > datetime.now(UTC)

    handed = wait_for(lambda: relay(container), 30, "the release time to come")
    assert handed == [made.event_id]
    assert public(container, client, slug) == dict.fromkeys(("page", "list", "feeds", "sitemap"), True)


def test_moving_the_time_and_cancelling_before_release(container: Any) -> None:
    later = datetime.now(UTC) + timedelta(hours=2)
    made = container.articles.ingest({"guid": "urn:t:moved", "title": "Moved", "body_text": "x",
                                      "published_at": later.isoformat()})
    # Edited while scheduled: still one pending `article.published`, no `article.updated`.
    edited = container.articles.ingest({"guid": "urn:t:moved", "title": "Moved, edited",
                                        "body_text": "x", "published_at": later.isoformat()})
    assert edited.outcome is Outcome.UPDATED and edited.event_id is None
    assert relay(container) == []
    # Moved to a past time: released at once by the same event.
    now_ish = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    moved = container.articles.reschedule(made.article.id, now_ish)
    assert moved is not None and container.article_reader.by_slug(made.article.slug) is not None
    assert moved.event_id == made.event_id
    with pytest.raises(InvalidArticle) as info:
        container.articles.reschedule(made.article.id, later.isoformat())
    assert info.value.field == "release_at"

    cancelled = container.articles.ingest({"guid": "urn:t:cancel", "title": "Cancelled",
                                           "body_text": "x", "published_at": later.isoformat()})
    result = container.articles.unpublish(cancelled.article.id)
    assert result is not None and result.outcome is Outcome.UNPUBLISHED
    events = {e.event_type: e for e in container.event_log.of_article(cancelled.article.id)}
    # The release never happens; the `article.deleted` reaches only partners told ahead of time
    # (embargo partners, see tests/integration/test_partners_embargo.py).
    assert events["article.published"].handled_at is not None
    assert events["article.deleted"].id == result.event_id


def test_a_late_import_with_a_past_time_is_published_at_once(container: Any) -> None:
    made = container.articles.ingest({"guid": "urn:t:late", "title": "Late", "body_text": "x",
                                      "published_at": "2026-01-01T10:00:00Z"})
    assert container.article_reader.by_slug(made.article.slug) is not None
    assert made.event_id is not None and relay(container) == []  # already handed over at import


def test_a_late_import_with_a_past_date_goes_into_the_next_edition(container: Any) -> None:
    from tests.integration.digest_helpers import add_active, make_list

    lst = make_list(container, "world", frequency="daily")
    add_active(container, lst, ["reader@example.com"])
    now = container.clock().isoformat()
    first = container.articles.ingest({"guid": "urn:t:fresh", "title": "Fresh statement",
                                       "body_html": "<p>x</p>", "published_at": now})
    assert container.digests.send_now("world") is not None  # yesterday's edition: the fresh one
    three_days_ago = (container.clock() - timedelta(days=3)).isoformat()
    late = container.articles.ingest({"guid": "urn:t:late", "title": "Statement filed late",
                                      "body_html": "<p>y</p>", "published_at": three_days_ago})
    edition_id = container.digests.send_now("world")
    assert edition_id is not None, "the late import fell before the edition's window"
    ids = container.digest_reads.edition(edition_id).article_ids
    assert late.article.id in ids and first.article.id not in ids
    assert container.digests.send_now("world") is None  # and only once
