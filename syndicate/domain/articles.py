"""Articles as the newsroom publishes them: the validated draft and the stored article."""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def plain_text(fragment: str) -> str:
    """The text of an HTML fragment: tags dropped, entities decoded, whitespace collapsed."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", fragment))).strip()


def excerpt(summary: str, body_html: str, limit: int) -> str:
    """The summary, else the body's first `limit` characters as plain text, cut at a word."""
    text = plain_text(summary) or plain_text(body_html)
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


@dataclass(frozen=True)
class Image:
    """An image that belongs to an article; `alt` is never empty."""

    url: str
    alt: str


def public_link(base_url: str, slug: str) -> str:
    """The public page of the article with this slug: what feeds, emails and listings link to."""
    return f"{base_url}/news/{slug}"


@dataclass(frozen=True)
class ListedArticle:
    """An article as a listing shows it: what identifies it, when, in which language, under
    which categories (in the newsroom's order); no body, no images."""

    id: int
    guid: str
    slug: str
    title: str
    published_at: datetime
    updated_at: datetime
    language: str
    categories: tuple[str, ...]

    def link(self, base_url: str) -> str:
        """Its public page."""
        return public_link(base_url, self.slug)


@dataclass(frozen=True)
class Translation:
    """Another published language version of an article's story (see domain/stories.py)."""

    article_id: int
    guid: str
    slug: str
    language: str
    url: str | None = None

    def link(self, base_url: str) -> str:
        """Its public page."""
        return public_link(base_url, self.slug)

    def canonical_url(self, base_url: str) -> str:
        """Its own URL when the newsroom gave one, else its public page."""
        return self.url or self.link(base_url)


@dataclass(frozen=True)
class ArticleDraft:
    """Validated, sanitized article input: every string is XML-safe, body_html is sanitized."""

    title: str
    body_html: str
    # None: "now" for a new article, unchanged for an existing one.
    published_at: datetime | None = None
    guid: str | None = None
    slug: str | None = None
    summary: str = ""
    url: str | None = None
    updated_at: datetime | None = None
    language: str = "en"
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()
    translation_of: str | None = None

    def content_hash(self) -> str:
        """A digest of everything a reader sees; equal hashes mean an import changed nothing."""
        payload = {
            "title": self.title,
            "summary": self.summary,
            "body_html": self.body_html,
            "url": self.url,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "language": self.language,
            "categories": list(self.categories),
            "authors": list(self.authors),
            "images": [[i.url, i.alt] for i in self.images],
            "translation_of": self.translation_of,
        }
        raw = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(raw).hexdigest()


@dataclass
class Article:
    """A stored article. `guid` and `slug` never change once assigned."""

    id: int
    guid: str
    slug: str
    title: str
    body_html: str
    published_at: datetime
    updated_at: datetime
    summary: str = ""
    url: str | None = None
    language: str = "en"
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    images: tuple[Image, ...] = field(default_factory=tuple)
    translation_of: str | None = None
    unpublished_at: datetime | None = None
    # The story's other published versions; filled only by readers that say so (stories.py).
    translations: tuple[Translation, ...] = ()

    @property
    def is_published(self) -> bool:
        """False once the newsroom unpublished the article."""
        return self.unpublished_at is None

    def link(self, base_url: str) -> str:
        """The public page every feed item and email links to."""
        return public_link(base_url, self.slug)

    def canonical_url(self, base_url: str) -> str:
        """The article's own URL when the newsroom gave one, else our public page."""
        return self.url or self.link(base_url)


def tag_authority(base_url: str) -> str:
    """The RFC 4151 tagging authority of our articles: the host name of BASE_URL."""
    return (urlsplit(base_url).hostname or "localhost").lower()


def slug_tag(authority: str, year: int, slug: str) -> str:
    """An RFC 4151 tag URI for an article's slug: `tag:HOST,YEAR:article/SLUG`."""
    return f"tag:{authority},{year:04d}:article/{slug}"


def legacy_guid(slug: str) -> str:
    """The guid given before tag URIs to articles without guid or URL; stored ones keep it."""
    return f"syndicate:article:{slug}"


def default_guid(url: str | None, slug: str, *, authority: str, first_published: datetime) -> str:
    """The guid for an article that came without one: its URL, else a tag URI on its slug.

    `first_published` is the article's first publication time: its UTC year is in the tag, so
    the id an aggregator sees never changes afterwards.
    """
    return url if url else slug_tag(authority, first_published.astimezone(UTC).year, slug)


def article_json(article: Article, base_url: str) -> dict[str, Any]:
    """The contract's article JSON of a stored article, plus id, slug, link and unpublished_at."""
    return {
        "id": article.id,
        "guid": article.guid,
        "slug": article.slug,
        "title": article.title,
        "summary": article.summary,
        "body_html": article.body_html,
        "url": article.canonical_url(base_url),
        "link": article.link(base_url),
        "published_at": article.published_at.isoformat(),
        "updated_at": article.updated_at.isoformat(),
        "language": article.language,
        "categories": list(article.categories),
        "authors": list(article.authors),
        "images": [{"url": i.url, "alt": i.alt} for i in article.images],
        "translation_of": article.translation_of,
        "unpublished_at": article.unpublished_at.isoformat() if article.unpublished_at else None,
    }
