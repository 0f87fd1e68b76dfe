"""`articles list` reads in plain SQL (storage/article_list.py): the same articles, order and
fields as the ORM's reader, on both databases, scheduled and unpublished ones left out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def container(request: pytest.FixtureRequest, make_container: Callable[..., Any]) -> Any:
    options = {"database_url": request.getfixturevalue("pg_url")} if request.param == "postgresql" else {}
    return make_container(**options)


def test_the_plain_sql_list_matches_the_article_reader(container: Any) -> None:
    now = datetime.now(UTC)
    same_time = (now - timedelta(hours=2)).isoformat()
    made = {}
    for guid, published, categories in [
        ("urn:t:old", (now - timedelta(days=3)).isoformat(), ["security", "meetings"]),
        ("urn:t:tie-a", same_time, ["exercises"]),
        ("urn:t:tie-b", same_time, []),  # same time: the higher id first
        ("urn:t:gone", (now - timedelta(days=1)).isoformat(), ["security"]),
        ("urn:t:later", (now + timedelta(days=1)).isoformat(), ["security"]),  # scheduled
    ]:
        made[guid] = container.articles.ingest({
            "guid": guid, "title": f"Title {guid}", "body_text": "Body.", "published_at": published,
            "categories": categories, "language": "ru" if guid == "urn:t:old" else "en",
        }).article
    container.articles.unpublish(made["urn:t:gone"].id)

    listed = list(container.article_list.newest())
    expected = container.article_reader.newest(limit=100)
    assert [a.guid for a in listed] == ["urn:t:tie-b", "urn:t:tie-a", "urn:t:old"]
    assert [a.guid for a in listed] == [a.guid for a in expected]
    for got, want in zip(listed, expected, strict=True):
        assert (got.id, got.slug, got.title, got.language, got.categories) == (
            want.id, want.slug, want.title, want.language, want.categories)
        assert got.published_at == want.published_at and got.published_at.tzinfo is not None
        assert got.updated_at == want.updated_at
        assert got.link("https://news.example.com") == want.link("https://news.example.com")
    assert listed[-1].categories == ("security", "meetings")  # in the newsroom's order
    # Without categories: the same articles, none of them read.
    assert [(a.id, a.categories) for a in container.article_list.newest(categories=False)] == [
        (a.id, ()) for a in listed]
    # The scheduled one appears once its time has come.
    later = list(container.article_list.newest(now=now + timedelta(days=2)))
    assert later[0].guid == "urn:t:later"
