"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1): feedgen has none, so it is plain JSON."""

from __future__ import annotations

import json
from typing import Any

from syndicate.domain.articles import Article
from syndicate.feeds.builder import FeedHead, atom_time, excerpt
from syndicate.feeds.model import xml_safe

VERSION = "https://jsonfeed.org/version/1.1"


def _item(head: FeedHead, article: Article) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": article.guid,
        "url": article.link(head.base_url),
        "title": xml_safe(article.title),
        "content_html": xml_safe(article.body_html),
        "summary": excerpt(article),
        "date_published": atom_time(article.published_at),
        "date_modified": atom_time(article.updated_at),
        "language": article.language,
    }
    if article.url and article.url != item["url"]:
        item["external_url"] = article.url
    if article.authors:
        item["authors"] = [{"name": xml_safe(name)} for name in article.authors]
    if article.categories:
        item["tags"] = list(article.categories)
    if article.images:
        item["image"] = article.images[0].url
    return item


def render_json(head: FeedHead, articles: list[Article]) -> bytes:
    """A JSON Feed 1.1 document of `articles` in the given order; identical input, identical bytes."""
    doc: dict[str, Any] = {
        "version": VERSION,
        "title": xml_safe(head.title),
        "home_page_url": head.site_url,
        "feed_url": head.self_url,
        "description": xml_safe(head.subtitle),
        "authors": [{"name": xml_safe(head.author)}],
    }
    if head.language:
        doc["language"] = head.language
    if head.hubs:
        doc["hubs"] = [{"type": "WebSub", "url": hub} for hub in head.hubs]
    doc["items"] = [_item(head, a) for a in articles]
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
