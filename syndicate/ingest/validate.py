"""Article JSON (the contract's shape) to a validated, sanitized ArticleDraft."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from syndicate.domain.articles import ArticleDraft, Image
from syndicate.domain.languages import parse_language
from syndicate.domain.slugs import SLUG_RULE, is_slug, parse_slug
from syndicate.errors import ArticleTooLarge, InvalidArticle
from syndicate.ingest.limits import (
    MAX_ALT,
    MAX_AUTHOR,
    MAX_AUTHORS,
    MAX_CATEGORIES,
    MAX_GUID,
    MAX_IMAGES,
    MAX_SUMMARY,
    MAX_TITLE,
    MAX_URL,
    check_count,
    check_date_range,
    check_length,
    preview,
)
from syndicate.ingest.sanitize import (
    plain_title,
    sanitize_html,
    single_line,
    split_paragraphs,
    strip_xml_forbidden,
    text_to_html,
)

KNOWN_FIELDS = frozenset(
    {
        "guid", "slug", "title", "summary", "body_html", "body_text", "url", "published_at",
        "updated_at", "language", "categories", "authors", "images", "translation_of",
    }
)
_preview = preview


def _string(data: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidArticle(name, "is required and must be a non-empty string")
        return None
    if not isinstance(value, str):
        raise InvalidArticle(name, f"must be a string, got {_preview(value)}")
    return value


def parse_timestamp(name: str, value: object) -> datetime:
    """An RFC 3339 timestamp with an explicit offset, or InvalidArticle naming `name`."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidArticle(
                name, f"{_preview(value)} is not an RFC 3339 date-time"
            ) from None
    else:
        raise InvalidArticle(name, f"must be an RFC 3339 string, got {_preview(value)}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidArticle(name, f"{_preview(value)} has no UTC offset (add Z or +hh:mm)")
    return check_date_range(name, parsed)


def _string_list(data: Mapping[str, Any], name: str, limit: int) -> list[str]:
    value = data.get(name, [])
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        check_count(name, value, limit)  # before looking at the items: a long list costs nothing
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArticle(name, f"must be a list of strings, got {_preview(value)}")
    return value


def _categories(data: Mapping[str, Any]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for raw in _string_list(data, "categories", MAX_CATEGORIES):
        slug = parse_slug(raw)
        if slug is None:
            raise InvalidArticle("categories", f"{_preview(raw)} is not a slug ({SLUG_RULE})")
        seen[slug] = None
    return tuple(seen)


def _images(data: Mapping[str, Any], title: str) -> tuple[Image, ...]:
    value = data.get("images") or []
    if not isinstance(value, list):
        raise InvalidArticle("images", f"must be a list, got {_preview(value)}")
    check_count("images", value, MAX_IMAGES)
    images = []
    for index, item in enumerate(value, start=1):
        if isinstance(item, str):
            item = {"url": item}
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise InvalidArticle(f"images[{index - 1}]", f"needs a 'url' string, got {_preview(item)}")
        url = single_line(item["url"])
        check_length(f"images[{index - 1}].url", url, MAX_URL)
        if not re.match(r"^https?://", url):
            raise InvalidArticle(f"images[{index - 1}].url", f"{_preview(url)} is not an http(s) URL")
        alt = item.get("alt")
        alt = single_line(alt) if isinstance(alt, str) and alt.strip() else f"{title} (photo {index})"
        check_length(f"images[{index - 1}].alt", alt, MAX_ALT)
        images.append(Image(url=url, alt=alt))
    return tuple(images)


def draft_from_mapping(
    data: Mapping[str, Any], *, now: datetime, max_body_bytes: int
) -> ArticleDraft:
    """Validate article JSON; raises InvalidArticle naming the first bad field and its value."""
    if not isinstance(data, Mapping):
        raise InvalidArticle("(document)", f"must be a JSON object, got {_preview(data)}")
    unknown = sorted(set(data) - KNOWN_FIELDS)
    if unknown:
        name = single_line(unknown[0]) or "(empty name)"
        raise InvalidArticle(name if len(name) <= 60 else name[:57] + "...", "is not a known article field")

    title = plain_title(_string(data, "title", required=True) or "")
    if not title:
        raise InvalidArticle("title", "is empty after removing markup and control characters")
    check_length("title", title, MAX_TITLE)

    body_html = _string(data, "body_html")
    body_text = _string(data, "body_text")
    if body_html is None and body_text is None:
        raise InvalidArticle("body_html", "one of 'body_html' or 'body_text' is required")
    raw_body = body_html if body_html is not None else body_text
    assert raw_body is not None  # for the type checker: one of the two is set
    size = len(raw_body.encode("utf-8", "surrogatepass"))
    if size > max_body_bytes:
        field = "body_html" if body_html is not None else "body_text"
        raise ArticleTooLarge(field, f"is {size} bytes; the limit is {max_body_bytes}")
    if body_html is not None:
        html = sanitize_html(body_html)
    else:
        html = text_to_html(split_paragraphs(strip_xml_forbidden(raw_body)))
    if not html:
        raise InvalidArticle("body_html", "is empty after sanitizing")

    published_raw = data.get("published_at")
    published_at = (
        None if published_raw in (None, "") else parse_timestamp("published_at", published_raw)
    )
    updated_raw = data.get("updated_at")
    updated_at = None if updated_raw in (None, "") else parse_timestamp("updated_at", updated_raw)
    if updated_at is not None and updated_at < (published_at or now):
        raise InvalidArticle("updated_at", f"{_preview(updated_raw)} is before published_at")

    raw_language = _string(data, "language") or "en"
    language = parse_language(raw_language)
    if language is None:
        raise InvalidArticle("language", f"{_preview(raw_language)} is not a BCP 47 language tag")

    url = _string(data, "url")
    if url is not None:
        url = single_line(url)
        check_length("url", url, MAX_URL)
        if not re.match(r"^https?://[^\s/]+", url):
            raise InvalidArticle("url", f"{_preview(url)} is not an absolute http(s) URL")

    guid = _string(data, "guid")
    if guid is not None:
        guid = single_line(guid)
        check_length("guid", guid, MAX_GUID)

    slug = _string(data, "slug")
    if slug is not None and not is_slug(slug):
        raise InvalidArticle("slug", f"{_preview(slug)} is not a slug ({SLUG_RULE})")

    translation_of = _string(data, "translation_of")
    if translation_of is not None:
        translation_of = single_line(translation_of)
        check_length("translation_of", translation_of, MAX_GUID)
    summary = single_line(_string(data, "summary") or "")
    check_length("summary", summary, MAX_SUMMARY)
    authors = tuple(a for a in (single_line(x) for x in _string_list(data, "authors", MAX_AUTHORS)) if a)
    for n, author in enumerate(authors):
        check_length(f"authors[{n}]", author, MAX_AUTHOR)

    return ArticleDraft(
        guid=guid,
        slug=slug,
        title=title,
        summary=summary,
        body_html=html,
        url=url,
        published_at=published_at,
        updated_at=updated_at,
        language=language,
        categories=_categories(data),
        authors=authors,
        images=_images(data, title),
        translation_of=translation_of or None,
    )
