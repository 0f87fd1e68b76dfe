"""Language tags and ranges, shared by article validation, list and partner filters."""

from __future__ import annotations

import pytest

from syndicate.domain.languages import in_language_range, is_language_tag


@pytest.mark.parametrize("tag", ["en", "ru-RU", "zh-Hant-TW", "sr-Latn", "es-419", "de-CH-1996", "ast"])
def test_language_tags(tag: str) -> None:
    assert is_language_tag(tag)


@pytest.mark.parametrize("value", ["", "e", "english", "ru_RU", "ru-", "r%", "en-US-toolongsubtag", "ru RU"])
def test_not_language_tags(value: str) -> None:
    assert not is_language_tag(value)


@pytest.mark.parametrize(("tag", "wanted", "covered"), [
    ("ru", "ru", True), ("ru-RU", "ru", True), ("RU-ru", "ru", True), ("ru", "ru-RU", False),
    ("rue", "ru", False), ("en-GB", "en-US", False), ("zh-Hant-TW", "zh-Hant", True),
])
def test_language_ranges(tag: str, wanted: str, covered: bool) -> None:
    assert in_language_range(tag, wanted) is covered
