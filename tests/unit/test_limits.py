"""Limits at the door: bounded JSON/YAML parsing, counts, lengths and the date range."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicate.errors import InvalidArticle
from syndicate.ingest.files import read_article_file
from syndicate.ingest.limits import (
    MAX_CATEGORIES,
    MAX_DEPTH,
    json_depth_exceeds,
    load_front_matter,
    load_json,
    preview,
)
from syndicate.ingest.validate import draft_from_mapping

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def draft(**fields: object) -> object:
    return draft_from_mapping({"title": "T", "body_text": "x", **fields}, now=NOW, max_body_bytes=10_000)


@pytest.mark.parametrize(("depth", "too_deep"), [(1, False), (MAX_DEPTH, False), (MAX_DEPTH + 1, True),
                                                  (1000, True), (200_000, True)])
def test_json_depth_is_measured_before_parsing(depth: int, too_deep: bool) -> None:
    text = '{"a": ' * depth + "1" + "}" * depth
    assert json_depth_exceeds(text) is too_deep


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"title": "[" * 5000 + '\\"{' * 100})
    assert not json_depth_exceeds(text)
    assert load_json(text)["title"].startswith("[[[")


def test_deep_json_names_the_document_and_the_limit() -> None:
    with pytest.raises(InvalidArticle, match=rf"field '\(document\)': nests deeper than {MAX_DEPTH}"):
        load_json("[" * 1000 + "]" * 1000)


def test_yaml_aliases_are_refused_before_expanding() -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for n in range(1, 9):
        bomb += f"{chr(97 + n)}: &{chr(97 + n)} [" + ",".join([f"*{chr(96 + n)}"] * 9) + "]\n"
    bomb += "categories: *i\n"
    with pytest.raises(InvalidArticle, match=r"uses the YAML alias \*a at line 2; aliases are not accepted"):
        load_front_matter(bomb)


def test_deep_yaml_is_refused() -> None:
    with pytest.raises(InvalidArticle, match=f"nests deeper than {MAX_DEPTH} levels"):
        load_front_matter("categories: " + "[" * 2000 + "]" * 2000)


def test_yaml_that_cannot_be_built_is_a_field_error() -> None:
    with pytest.raises(InvalidArticle, match=r"'\(front matter\)'"):
        load_front_matter("published_at: 0000-01-01T00:00:00Z")


def test_plain_front_matter_still_loads() -> None:
    assert load_front_matter("title: Hi\ncategories: [a, b]\n") == {"title": "Hi", "categories": ["a", "b"]}


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                   "1899-12-31T23:59:59Z", "9999-12-31T00:00:00Z"])
def test_dates_outside_the_storable_range_name_the_field_and_range(value: str) -> None:
    with pytest.raises(InvalidArticle, match=r"field 'published_at': .* outside the supported range "
                                             r"1900-01-01T00:00:00Z \.\. 9999-12-30T23:59:59Z"):
        draft(published_at=value)


def test_dates_at_the_edges_of_the_range_are_kept() -> None:
    assert draft(published_at="1900-01-01T00:00:00Z").published_at.year == 1900  # type: ignore[attr-defined]
    assert draft(published_at="9999-12-30T23:59:59Z").published_at.year == 9999  # type: ignore[attr-defined]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("categories", [f"c{n}" for n in range(100_000)], "has 100000 entries; the limit is 50"),
    ("categories", [f"c{n}" for n in range(MAX_CATEGORIES + 1)], "has 51 entries; the limit is 50"),
    ("authors", ["A"] * 100_000, "has 100000 entries; the limit is 50"),
    ("images", ["https://x.test/a.jpg"] * 51, "has 51 entries; the limit is 50"),
    ("summary", "s" * 5001, "is 5001 characters long; the limit is 5000"),
    ("title", "t" * 501, "is 501 characters long; the limit is 500"),
    ("translation_of", "g" * 501, "is 501 characters long; the limit is 500"),
])
def test_counts_and_lengths_are_bounded(field: str, value: object, message: str) -> None:
    with pytest.raises(InvalidArticle, match=f"field '{field}': {message}"):
        draft(**{field: value})


def test_fifty_categories_are_accepted() -> None:
    result = draft(categories=[f"c{n}" for n in range(MAX_CATEGORIES)])
    assert len(result.categories) == MAX_CATEGORIES  # type: ignore[attr-defined]


def test_long_language_tags_are_refused() -> None:
    with pytest.raises(InvalidArticle, match="field 'language'"):
        draft(language="en" + "-abcdefgh" * 5)


def test_preview_of_a_huge_nested_value_is_short() -> None:
    value: list[object] = ["x" * 10_000] * 10_000
    for _ in range(50):
        value = [value] * 9
    assert len(preview(value)) <= 60


def test_a_md_file_with_an_alias_bomb_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bomb.md"
    path.write_text("---\nx: &x [1, 2]\ncategories: *x\n---\nBody\n")
    with pytest.raises(InvalidArticle,
                       match=r"bomb.md: field '\(front matter\)': uses the YAML alias \*x at line 3"):
        read_article_file(path, media_base_url="http://m", max_body_bytes=10_000)
