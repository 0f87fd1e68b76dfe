"""Partner filters and the push body."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from syndicate.domain.articles import Article
from syndicate.partners.content import matches, push_body

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def story(language: str = "en", categories: tuple[str, ...] = ("world",)) -> Article:
    return Article(id=1, guid="g", slug="s", title="T", body_html="<p>b</p>", published_at=WHEN,
                   updated_at=WHEN, language=language, categories=categories)


def test_empty_filters_match_everything() -> None:
    assert matches([], None, story())


def test_category_filter_needs_one_shared_category() -> None:
    assert matches(["sport", "world"], None, story())
    assert not matches(["sport"], None, story())
    assert not matches(["sport"], None, story(categories=()))


def test_language_filter_matches_subtags_case_insensitively() -> None:
    assert matches([], "fr", story("fr-CA"))
    assert matches([], "FR", story("fr"))
    assert not matches([], "fr", story("fro"))
    assert not matches([], "en", story("ru"))


def test_body_is_compact_utf8_json_with_type_timestamp_data() -> None:
    body = push_body("article.updated", WHEN, {"title": "Привет"})
    assert "Привет" in body and ", " not in body
    assert json.loads(body) == {"type": "article.updated", "timestamp": "2026-01-01T00:00:00+00:00",
                                "data": {"title": "Привет"}}
