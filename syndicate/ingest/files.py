"""Reading article files (.json, .md with YAML front matter, .txt) into article JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from slugify import slugify

from syndicate.errors import ArticleTooLarge, InvalidArticle, UnsupportedInput
from syndicate.ingest.limits import load_front_matter, load_json
from syndicate.ingest.textfile import clean_text_article

SUPPORTED_SUFFIXES = (".json", ".md", ".markdown", ".txt")


@dataclass
class ArticleFile:
    """One article read from a file, before validation, with what cleaning was done."""

    data: dict[str, Any]
    cleaned: str = ""
    photos: list[str] = field(default_factory=list)


def _decode(path: Path, raw: bytes) -> str:
    if b"\x00" in raw:
        raise UnsupportedInput("(file)", "is a binary file (it contains NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsupportedInput(
            "(file)", f"is not UTF-8 (invalid byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None
    return text.removeprefix("\ufeff")


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---"):
        return {}, text
    parts = text.split("\n", 1)
    if parts[0].strip() != "---" or len(parts) < 2:
        return {}, text
    head, sep, body = parts[1].partition("\n---")
    if not sep:
        raise InvalidArticle("(front matter)", "has no closing '---' line")
    meta = load_front_matter(head, line_offset=1) or {}
    if not isinstance(meta, dict):
        raise InvalidArticle("(front matter)", "must be a mapping of field: value")
    return meta, body.split("\n", 1)[1] if "\n" in body else ""


def _yaml_dates_to_text(meta: dict[str, Any]) -> dict[str, Any]:
    # YAML turns `2024-05-01T10:00:00+03:00` into datetime objects; keep validation in one place.
    out = {}
    for key, value in meta.items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, date):
            raise InvalidArticle(str(key), f"{value.isoformat()!r} is a date without a time and offset")
        out[str(key)] = value
    return out


def read_article_file(path: Path, *, media_base_url: str, max_body_bytes: int) -> ArticleFile:
    """Article JSON from one file; raises an InvalidArticle subclass naming the file and field."""
    source = str(path)
    try:
        suffix = path.suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise UnsupportedInput(
                "(file)", f"type {suffix or '(none)'!r} is not supported; use .json, .md or .txt"
            )
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise UnsupportedInput("(file)", f"cannot be read: {exc.strerror}") from None
        # A generous bound before parsing; the body itself is checked against the limit later.
        if len(raw) > max_body_bytes * 2 + 65536:
            raise ArticleTooLarge("(file)", f"is {len(raw)} bytes; the body limit is {max_body_bytes}")
        text = _decode(path, raw)
        if suffix == ".json":
            data = load_json(text)
            if not isinstance(data, dict):
                raise InvalidArticle("(document)", "must be a JSON object")
            return ArticleFile(data=data)
        if suffix in (".md", ".markdown"):
            meta, body = _front_matter(text)
            data = _yaml_dates_to_text(meta)
            if "body_html" in data or "body_text" in data:
                raise InvalidArticle("body_html", "comes from the Markdown text, not front matter")
            if "title" not in data:
                heading, _, rest = body.lstrip("\n").partition("\n")
                if heading.startswith("# "):
                    data["title"], body = heading[2:].strip(), rest
            data["body_html"] = MarkdownIt("commonmark").render(body)
            data.setdefault("slug", slugify(path.stem, max_length=80) or None)
            return ArticleFile(data=data)
        article, report = clean_text_article(text, media_base_url=media_base_url)
        article["slug"] = slugify(path.stem, max_length=80) or None
        return ArticleFile(data=article, cleaned=report.describe(), photos=report.photos)
    except InvalidArticle as exc:
        raise exc.with_source(source) from None
