"""Language tags (BCP 47) of articles, lists, subscribers and partner filters: one spelling each.

`EN_us`, `en-us` and `en-US` are one language: everything that accepts a tag stores and compares
the canonical form langcodes gives (`en-US`), so they make one feed, not three.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NewType

#: A language tag in its canonical BCP 47 form, as `parse_language` returns it.
LanguageTag = NewType("LanguageTag", str)

MAX_TAG = 35


def parse_language(value: str) -> LanguageTag | None:
    """The canonical form of a language tag ('EN_us' → 'en-US', 'iw' → 'he'), or None if invalid.

    Accepts underscores for hyphens and any case; refuses tags whose language is not registered.
    """
    text = value.strip()
    if not text or len(text) > MAX_TAG:
        return None
    return _canonical(text)


@lru_cache(maxsize=1024)
def _canonical(text: str) -> LanguageTag | None:
    # langcodes loads its registry (about 0.2 s) on import: only when a tag is first parsed.
    import langcodes

    try:
        tag = langcodes.standardize_tag(text)
    except (langcodes.LanguageTagError, ValueError):
        return None
    return LanguageTag(tag) if langcodes.tag_is_valid(tag) else None


def is_language_tag(value: str) -> bool:
    """True when `value` is a valid language tag in any spelling `parse_language` accepts."""
    return parse_language(value) is not None


def in_language_range(tag: str, wanted: str) -> bool:
    """RFC 4647 basic filtering: 'ru' covers 'ru' and 'ru-RU', 'ru-RU' only 'ru-RU'; any case."""
    tag, wanted = tag.lower(), wanted.lower()
    return tag == wanted or tag.startswith(wanted + "-")
