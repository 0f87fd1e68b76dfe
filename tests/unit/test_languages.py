"""Language tags and ranges, shared by article validation, list and partner filters."""

from __future__ import annotations

import pytest

from syndicate.domain.languages import in_language_range, is_language_tag, parse_language
from syndicate.domain.slugs import parse_slug


@pytest.mark.parametrize("tag", ["en", "ru-RU", "zh-Hant-TW", "sr-Latn", "es-419", "de-CH-1996", "ast"])
def test_language_tags(tag: str) -> None:
    assert is_language_tag(tag)


@pytest.mark.parametrize(
    "value", ["", "e", "english", "ru-", "r%", "en-US-toolongsubtag", "ru RU", "xx", "qq-QQ"]
)
def test_not_language_tags(value: str) -> None:
    assert not is_language_tag(value)


@pytest.mark.parametrize(("given", "canonical"), [
    ("EN_us", "en-US"), ("en-us", "en-US"), ("en-US", "en-US"), ("ru_RU", "ru-RU"), (" RU ", "ru"),
    ("zh-hant-tw", "zh-Hant-TW"), ("sr_latn", "sr-Latn"), ("iw", "he"),
])
def test_one_spelling_per_language(given: str, canonical: str) -> None:
    # `EN_us` and `en-US` must be one feed, one list filter, one partner filter: not two.
    assert parse_language(given) == canonical


@pytest.mark.parametrize(("given", "slug"), [("World", "world"), (" peace-keeping ", "peace-keeping"),
                                             ("a" * 63, "a" * 63)])
def test_slugs(given: str, slug: str) -> None:
    assert parse_slug(given) == slug


@pytest.mark.parametrize("given", ["", "-world", "wörld", "two words", "under_score", "a" * 64])
def test_not_slugs(given: str) -> None:
    assert parse_slug(given) is None


@pytest.mark.parametrize(("tag", "wanted", "covered"), [
    ("ru", "ru", True), ("ru-RU", "ru", True), ("RU-ru", "ru", True), ("ru", "ru-RU", False),
    ("rue", "ru", False), ("en-GB", "en-US", False), ("zh-Hant-TW", "zh-Hant", True),
])
def test_language_ranges(tag: str, wanted: str, covered: bool) -> None:
    assert in_language_range(tag, wanted) is covered


def test_one_language_feed_whatever_the_spelling_asked_for() -> None:
    from syndicate.feeds.model import Scope, feed_spec

    assert feed_spec("lang", "EN_us") == feed_spec("lang", "en-US")
    assert feed_spec("lang", "en-us").value == "en-US" and feed_spec("lang", "ru").scope is Scope.LANGUAGE
