"""Checks standing in for the W3C Feed Validation Service (not reachable here): feedparser without
bozo, plus explicit structural checks of what that validator flags."""

from __future__ import annotations

import html.entities
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser
from lxml import etree

from syndicate.domain.articles import Article, Image

A = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make_article(n: int, **changes: Any) -> Article:
    """A stored-looking article number `n`, published n hours after T0."""
    at = T0 + timedelta(hours=n)
    fields: dict[str, Any] = {
        "id": n, "guid": f"urn:test:{n}", "slug": f"article-{n}", "title": f"Article {n}",
        "body_html": f"<p>Body of article {n}</p>", "published_at": at, "updated_at": at,
        "summary": f"Summary {n}", "language": "en", "categories": ("world",), "authors": ("Ann Lee",),
        "images": (Image(url=f"https://cdn.example/{n}.jpg", alt=f"image {n}"),),
    }
    fields.update(changes)
    return Article(**fields)


# What the W3C Feed Validator takes for HTML in a title ("title should not contain HTML"): an
# HTML end tag, a start tag, or an entity reference left in the decoded text.
_HTML_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)\b[^<>]*>")
_ENTITY = re.compile(r"&(#?\w+)")
# IANA-registered schemes an id of ours may use (the validator warns on others, e.g. `syndicate:`).
REGISTERED_SCHEMES = frozenset({"http", "https", "tag", "urn", "mailto", "ftp", "info"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def assert_plain_title(title: str | None) -> None:
    """The title text (as a reader decodes it) holds no tag and no entity reference."""
    text = title or ""
    assert not _HTML_TAG.search(text), f"title contains markup: {text!r}"
    for name in _ENTITY.findall(text):
        assert not (name.startswith("#") or name in html.entities.name2codepoint), (
            f"title contains an entity reference &{name}: {text!r}")


def assert_registered_id(value: str | None) -> None:
    """An id with a URI scheme uses an IANA-registered one (tag:, urn:, http(s):…)."""
    match = _SCHEME.match(value or "")
    if match:
        assert match.group(1).lower() in REGISTERED_SCHEMES, f"id with unregistered scheme: {value!r}"


def _absolute(url: str | None) -> bool:
    return bool(url) and (url or "").startswith(("http://", "https://"))


def _rfc3339(value: str | None) -> datetime:
    assert value, "missing date"
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"date without offset: {value}"
    return parsed


def parse_ok(data: bytes) -> feedparser.FeedParserDict:
    """feedparser reads the bytes without bozo."""
    d = feedparser.parse(data)
    assert not d.bozo, f"feedparser bozo: {d.get('bozo_exception')}"
    return d


def check_atom(data: bytes) -> etree._Element:
    """Structural Atom 1.0 checks; returns the root."""
    parse_ok(data)
    root = etree.fromstring(data)
    assert root.tag == f"{A}feed"
    assert root.get(XML_LANG)
    assert [x.get("rel") for x in root.findall(f"{A}link")].count("self") == 1
    for link in root.iter(f"{A}link"):
        assert _absolute(link.get("href")), f"relative link {link.get('href')}"
        assert link.get("rel"), "link without rel"
    assert root.findtext(f"{A}id") and root.findtext(f"{A}title")
    assert_registered_id(root.findtext(f"{A}id"))
    assert_plain_title(root.findtext(f"{A}title"))
    _rfc3339(root.findtext(f"{A}updated"))
    feed_author = root.find(f"{A}author/{A}name") is not None
    entries = root.findall(f"{A}entry")
    ids = [e.findtext(f"{A}id") for e in entries]
    assert len(ids) == len(set(ids)), "duplicate entry ids"
    updated = [e.findtext(f"{A}updated") for e in entries]
    assert len(updated) == len(set(updated)), f"duplicate updated values: {Counter(updated)}"
    for e in entries:
        assert e.get(XML_LANG)
        assert e.findtext(f"{A}title") is not None
        assert_plain_title(e.findtext(f"{A}title"))
        assert_registered_id(e.findtext(f"{A}id"))
        _rfc3339(e.findtext(f"{A}updated"))
        _rfc3339(e.findtext(f"{A}published"))
        assert feed_author or e.find(f"{A}author/{A}name") is not None
        alternates = [x for x in e.findall(f"{A}link") if x.get("rel") == "alternate"]
        assert alternates and all(x.get("type") == "text/html" for x in alternates)
        # RFC 4287 4.1.1: no two alternates with the same type and hreflang (translations differ
        # by hreflang; the entry's own page is the alternate in its language).
        pairs = [(x.get("type"), x.get("hreflang")) for x in alternates]
        assert len(set(pairs)) == len(pairs), f"repeated alternate {pairs}"
        content = e.find(f"{A}content")
        assert content is not None and content.get("type") == "html"
    return root


def check_rss(data: bytes) -> etree._Element:
    """Structural RSS 2.0 checks; returns the channel."""
    parse_ok(data)
    assert b"<![CDATA[" not in data
    channel = etree.fromstring(data).find("channel")
    assert channel is not None
    assert channel.findtext("title") and channel.findtext("description")
    assert _absolute(channel.findtext("link"))
    assert [x.get("rel") for x in channel.findall(f"{A}link")].count("self") == 1
    for link in channel.findall(f"{A}link"):
        assert _absolute(link.get("href"))
    for name in ("lastBuildDate", "pubDate"):
        value = channel.findtext(name)
        if value is not None:
            assert parsedate_to_datetime(value).tzinfo is not None
    items = channel.findall("item")
    guids = [i.findtext("guid") for i in items]
    assert len(guids) == len(set(guids))
    for item in items:
        assert_plain_title(item.findtext("title"))
        assert_registered_id(item.findtext("guid"))
        assert item.find("author") is None, "RSS <author> must be an email address; use dc:creator"
        assert _absolute(item.findtext("link"))
        assert parsedate_to_datetime(item.findtext("pubDate") or "").tzinfo is not None
    return channel


def check_json(data: bytes) -> dict[str, Any]:
    """JSON Feed 1.1 checks; returns the document."""
    doc: dict[str, Any] = json.loads(data)
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["title"] and _absolute(doc["feed_url"]) and _absolute(doc["home_page_url"])
    ids = [i["id"] for i in doc["items"]]
    assert all(isinstance(i, str) for i in ids) and len(ids) == len(set(ids))
    for item in doc["items"]:
        assert_plain_title(item.get("title"))
        assert_registered_id(item["id"])
        assert item["content_html"] is not None and _absolute(item["url"])
        _rfc3339(item["date_published"])
        _rfc3339(item["date_modified"])
    return doc
