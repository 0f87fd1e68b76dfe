"""Publishing on SQLite and the real PostgreSQL: idempotent by guid, event committed with article."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from syndicate.domain.events import ARTICLE_PUBLISHED, ARTICLE_UPDATED
from syndicate.errors import InvalidArticle
from syndicate.services.publishing import Outcome
from syndicate.storage.models import ArticleCategoryRow, ArticleRow, OutboxRow

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_container(request: pytest.FixtureRequest, make_container: Callable[..., Any]) -> Any:
    if request.param == "postgresql":
        return make_container(database_url=request.getfixturevalue("pg_url"))
    return make_container()


def counts(container: Any) -> tuple[int, int, int]:
    with container.session_factory() as s:
        return (
            s.scalar(select(func.count()).select_from(ArticleRow)),
            s.scalar(select(func.count()).select_from(ArticleCategoryRow)),
            s.scalar(select(func.count()).select_from(OutboxRow)),
        )


def events(container: Any) -> list[str]:
    with container.session_factory() as s:
        return list(s.scalars(select(OutboxRow.event_type).order_by(OutboxRow.id)))


def test_same_guid_updates_in_place(db_container: Any) -> None:
    article = {"guid": "g-1", "title": "First", "body_text": "One.", "categories": ["a", "b"],
               "published_at": "2026-01-01T10:00:00+03:00"}
    first = db_container.articles.ingest(article)
    assert first.outcome is Outcome.CREATED
    again = db_container.articles.ingest(article)
    assert again.outcome is Outcome.UNCHANGED and again.article.id == first.article.id
    assert events(db_container) == [ARTICLE_PUBLISHED]

    edited = db_container.articles.ingest(article | {"title": "First, edited", "categories": ["b", "c"]})
    assert edited.outcome is Outcome.UPDATED
    assert edited.article.id == first.article.id
    assert edited.article.slug == first.article.slug == "first"
    assert edited.article.categories == ("b", "c")
    assert edited.article.updated_at > first.article.updated_at
    assert edited.article.published_at == first.article.published_at
    assert events(db_container) == [ARTICLE_PUBLISHED, ARTICLE_UPDATED]
    assert counts(db_container) == (1, 2, 2)


def test_slugs_stay_unique(db_container: Any) -> None:
    a = db_container.articles.ingest({"title": "Same title", "body_text": "x", "guid": "1"})
    b = db_container.articles.ingest({"title": "Same title", "body_text": "y", "guid": "2"})
    assert (a.article.slug, b.article.slug) == ("same-title", "same-title-2")


def test_cyrillic_title_gets_a_transliterated_slug(db_container: Any) -> None:
    result = db_container.articles.ingest({"title": "Четверть века вместе", "body_text": "x"})
    assert result.article.slug == "chetvert-veka-vmeste"


def test_failed_import_leaves_database_unchanged(db_container: Any, tmp_path: Path) -> None:
    db_container.articles.import_file(DATA / "csto-anniversary.txt")
    before = counts(db_container)
    bad = tmp_path / "bad.json"
    bad.write_text('{"title": "T", "body_text": "x", "published_at": "not a date"}')
    with pytest.raises(InvalidArticle, match=r"bad.json: field 'published_at'"):
        db_container.articles.import_file(bad)
    assert counts(db_container) == before


def test_sample_import_is_idempotent(db_container: Any) -> None:
    first = db_container.articles.import_file(DATA / "csto-anniversary.txt")
    second = db_container.articles.import_file(DATA / "csto-anniversary.txt")
    assert first.result.article.id == second.result.article.id
    assert second.result.outcome is Outcome.UNCHANGED
    assert "4 photo file name(s)" in first.cleaned
    assert len(first.result.article.images) == 4
    assert counts(db_container) == (1, 0, 1)


def test_unpublish_and_republish(db_container: Any) -> None:
    from syndicate.storage.articles import ArticleQueries

    article = {"guid": "g-9", "title": "Gone soon", "body_text": "x"}
    created = db_container.articles.ingest(article)
    gone = db_container.articles.unpublish(created.article.id)
    assert gone is not None and gone.outcome is Outcome.UNPUBLISHED
    again = db_container.articles.unpublish(created.article.id)
    assert again is not None and again.outcome is Outcome.UNCHANGED and again.event_id is None
    assert db_container.articles.unpublish(999) is None
    with db_container.session_factory() as s:
        queries = ArticleQueries(s)
        assert queries.by_slug("gone-soon") is None
        assert queries.newest(limit=10) == []
        assert [a.id for a in queries.newest(limit=10, include_unpublished=True)] == [created.article.id]
    back = db_container.articles.ingest(article)
    assert back.outcome is Outcome.UPDATED and back.article.is_published
    assert events(db_container) == ["article.published", "article.deleted", "article.published"]


def test_article_without_guid_gets_a_tag_uri_of_host_and_year(make_container: Callable[..., Any]) -> None:
    container = make_container(base_url="https://News.Example:8443/site")
    made = container.articles.ingest({"title": "Statement on the exercise", "body_text": "x",
                                      "published_at": "2025-12-31T23:30:00-02:00"})
    # The year is the UTC year of first publication (2026-01-01T01:30Z).
    assert made.article.guid == "tag:news.example,2026:article/statement-on-the-exercise"
    moved = container.articles.ingest({"title": "Statement on the exercise", "body_text": "y",
                                       "published_at": "2027-02-01T10:00:00Z"})
    assert moved.article.id == made.article.id and moved.article.guid == made.article.guid
    with_url = container.articles.ingest({"title": "Elsewhere", "body_text": "x",
                                          "url": "https://example.org/elsewhere"})
    assert with_url.article.guid == "https://example.org/elsewhere"
    brought = container.articles.ingest({"guid": "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427",
                                         "title": "Brought", "body_text": "x"})
    assert brought.article.guid == "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427"


def test_stored_legacy_ids_never_change(db_container: Any) -> None:
    # An article stored before tag URIs, when guid-less articles got `syndicate:article:SLUG`.
    old = db_container.articles.ingest({"guid": "syndicate:article:old-story", "title": "Old story",
                                        "body_text": "x", "published_at": "2026-01-01T10:00:00Z"})
    again = db_container.articles.ingest({"title": "Old story", "body_text": "x, corrected",
                                          "published_at": "2026-01-01T10:00:00Z"})
    assert again.outcome is Outcome.UPDATED and again.article.id == old.article.id
    assert again.article.guid == "syndicate:article:old-story"
    assert counts(db_container)[0] == 1


def test_markup_in_titles_is_stored_as_text(db_container: Any) -> None:
    made = db_container.articles.ingest({"guid": "urn:t:1", "title": "Statement <b>on</b> AT&amp;T",
                                         "body_text": "x"})
    assert made.article.title == "Statement on AT&T"
