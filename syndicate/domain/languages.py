"""Language tags (BCP 47) of articles, lists and partner filters."""

from __future__ import annotations

import re

#: A language tag as we accept it: a 2-3 letter primary language, then subtags of 1-8
#: letters or digits ('en', 'ru-RU', 'zh-Hant-TW', 'sr-Latn').
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


def is_language_tag(value: str) -> bool:
    """True when `value` has the shape of a language tag."""
    return bool(LANGUAGE_TAG.match(value))


def in_language_range(tag: str, wanted: str) -> bool:
    """RFC 4647 basic filtering: 'ru' covers 'ru' and 'ru-RU', 'ru-RU' only 'ru-RU'; any case."""
    tag, wanted = tag.lower(), wanted.lower()
    return tag == wanted or tag.startswith(wanted + "-")
