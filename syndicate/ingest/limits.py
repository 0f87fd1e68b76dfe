"""Limits at the door: bounded parsing of JSON and YAML, counts, lengths and date ranges.

Every entry point (the API, the subscribe form, article files) parses untrusted text through
here, so a hostile document is refused by a cheap check before the expensive step:
- JSON nesting is measured on the raw text before `json.loads` (whose C scanner recurses);
- YAML is composed by a loader that refuses aliases and bounds nesting while it composes, so
  an alias bomb or a 2,000-deep list never builds;
- dates must convert to UTC and lie in a range PostgreSQL and SQLite both store.
Each refusal is an InvalidArticle naming the field and the limit.
"""

from __future__ import annotations

import json
import re
import reprlib
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from syndicate.errors import InvalidArticle

MAX_DEPTH = 32  # JSON and YAML nesting; an article is 3 deep ({"images": [{"url": …}]})
MAX_FRONT_MATTER_BYTES = 64 * 1024
MAX_CATEGORIES = 50
MAX_AUTHORS = 50
MAX_IMAGES = 50
MAX_TITLE = 500
MAX_SUMMARY = 5000
MAX_AUTHOR = 200
MAX_URL = 2000
MAX_ALT = 500
MAX_GUID = 500
MAX_LANGUAGE = 35
# The range every supported database stores (PostgreSQL: 4713 BC..294276 AD; SQLite as text and
# Python's datetime: years 1..9999): years 1900..9999, less a day at the top so that any local
# offset (at most ±24 h) still converts to UTC and back.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, 23, 59, 59, tzinfo=UTC)
DATE_RANGE = "1900-01-01T00:00:00Z .. 9999-12-30T23:59:59Z"

# A JSON string literal (escapes included); removed before brackets are counted.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST_PAIR = re.compile(r"[\[{][\]}]")

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxlist, _repr.maxdict, _repr.maxstring, _repr.maxother = 2, 4, 4, 40, 40


def preview(value: object) -> str:
    """A short repr of any value, in bounded time and memory (never the whole of a big value)."""
    text = _repr.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def json_depth_exceeds(text: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """True when `text` nests arrays/objects deeper than `limit` (strings do not count).

    Innermost bracket pairs are removed one level per pass (each pass a C-speed regex), so a
    hostile document costs at most `limit + 1` passes. Unbalanced text stops early and is left
    to the JSON parser to refuse.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    for _ in range(limit):
        if not brackets:
            return False
        reduced = _INNERMOST_PAIR.sub("", brackets)
        if reduced == brackets:
            return False
        brackets = reduced
    return bool(_INNERMOST_PAIR.search(brackets))


def load_json(text: str | bytes, *, field: str = "(document)") -> Any:
    """Parse JSON after refusing nesting over MAX_DEPTH; raises InvalidArticle naming `field`."""
    if json_depth_exceeds(text):
        raise InvalidArticle(field, f"nests deeper than {MAX_DEPTH} levels; the limit is {MAX_DEPTH}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArticle(field, f"is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except UnicodeDecodeError as exc:
        raise InvalidArticle(field, f"is not valid JSON: not UTF-8 at byte {exc.start}") from None
    except RecursionError:  # unreachable after the depth check; kept as a last guard
        raise InvalidArticle(field, f"nests deeper than {MAX_DEPTH} levels") from None


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and nesting over MAX_DEPTH while composing the tree."""

    _depth = 0
    line_offset = 0  # lines before the YAML text in its file, so errors name the file's line

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            line = event.start_mark.line + 1 + self.line_offset
            raise InvalidArticle(
                "(front matter)",
                f"uses the YAML alias *{event.anchor} at line {line}; aliases are not accepted",
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise InvalidArticle(
                    "(front matter)", f"nests deeper than {MAX_DEPTH} levels; the limit is {MAX_DEPTH}"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_front_matter(text: str, *, line_offset: int = 0) -> Any:
    """YAML front matter, bounded in size, depth and aliases; raises InvalidArticle.

    `line_offset` is the number of file lines before `text` (the opening '---').
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FRONT_MATTER_BYTES:
        raise InvalidArticle(
            "(front matter)", f"is {size} bytes; the limit is {MAX_FRONT_MATTER_BYTES}"
        )
    try:
        loader = _BoundedLoader(text)
        loader.line_offset = line_offset
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise InvalidArticle("(front matter)", f"is not valid YAML: {exc}".splitlines()[0]) from None
    except (ValueError, OverflowError) as exc:  # e.g. a timestamp with year 0
        raise InvalidArticle("(front matter)", f"holds a value YAML cannot build: {exc}") from None


def check_count(field: str, items: list[Any], limit: int) -> None:
    """Raise InvalidArticle naming `field` when `items` has more than `limit` entries."""
    if len(items) > limit:
        raise InvalidArticle(field, f"has {len(items)} entries; the limit is {limit}")


def check_length(field: str, text: str, limit: int) -> None:
    """Raise InvalidArticle naming `field` when `text` is longer than `limit` characters."""
    if len(text) > limit:
        raise InvalidArticle(field, f"is {len(text)} characters long; the limit is {limit}")


def check_date_range(field: str, value: datetime) -> datetime:
    """`value` itself, or InvalidArticle naming `field` when its UTC time is outside the range."""
    naive = value.replace(tzinfo=None)
    # Within a day of datetime's own bounds astimezone() overflows; such values are out anyway.
    if naive < datetime.min + timedelta(days=1) or naive > datetime.max - timedelta(days=1):
        utc = None
    else:
        utc = value.astimezone(UTC)
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise InvalidArticle(
            field, f"{preview(value.isoformat())} is outside the supported range {DATE_RANGE}"
        )
    return value
