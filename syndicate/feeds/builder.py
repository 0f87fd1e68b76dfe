"""RSS 2.0 and Atom 1.0 documents with feedgen 1.0.0, with each of its known traps handled.

Traps (FIELD-NOTES; each has a test in tests/unit/test_feeds_builder.py):
- `content(type='CDATA')` writes invalid Atom: content is always `type='html'` (escaped text).
- the RSS channel `<link>` is the href of the *last* `link()` call: the site link is set last.
- RSS output drops `rel=hub` (and every link but `self`): our feed extension writes them as atom:link.
- `add_entry()` prepends: entries are added with `order='append'`, newest first.
- unset feed `updated`/`lastBuildDate` default to now: both are set to the newest item's update time.
- naive datetimes raise: every time goes through `aware_utc`.
- XML-forbidden characters raise only at serialization: every string goes through `xml_safe`.
- Atom entry links lose `rel`/`type` (feedgen #135): our entry extension rewrites them, and
  writes the story's other languages as `link rel="alternate" type="text/html" hreflang=…`
  (feedgen would drop `hreflang` with `rel`); the entry's own alternate then carries its
  language, so no two alternates share type and hreflang (RFC 4287 4.1.1).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import datetime

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from syndicate.domain.articles import Article
from syndicate.domain.articles import excerpt as article_excerpt
from syndicate.feeds.model import aware_utc, feed_updated, xml_safe

ATOM_NS = "http://www.w3.org/2005/Atom"
FH_NS = "http://purl.org/syndication/history/1.0"
DC_NS = "http://purl.org/dc/elements/1.1/"
MEDIA_NS = "http://search.yahoo.com/mrss/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
EXCERPT_CHARS = 300


@dataclass(frozen=True)
class FeedHead:
    """Everything in a feed document except its items; URLs are absolute."""

    title: str
    subtitle: str
    site_url: str
    self_url: str
    feed_id: str
    author: str
    base_url: str
    media_type: str
    language: str | None = None
    hubs: tuple[str, ...] = ()
    # RFC 5005 links by relation ('current', 'prev-archive', 'next-archive'), and fh:archive.
    archive_links: tuple[tuple[str, str], ...] = ()
    is_archive: bool = False


def excerpt(article: Article) -> str:
    """The summary, or the first words of the body as plain text when there is none."""
    text = xml_safe(article_excerpt(article.summary, article.body_html, EXCERPT_CHARS))
    return text or xml_safe(article.title)


def _image_type(url: str) -> str:
    guessed, _ = mimetypes.guess_type(url.split("?", 1)[0])
    return guessed if guessed and guessed.startswith("image/") else "image/jpeg"


class _HeadExtension(BaseExtension):
    """Feed-level elements feedgen cannot write: hub/archive links in RSS, fh:archive."""

    head: FeedHead

    def extend_ns(self) -> dict[str, str]:
        return {"fh": FH_NS, "dc": DC_NS, "media": MEDIA_NS}

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        if self.head.is_archive:
            etree.SubElement(feed, f"{{{FH_NS}}}archive")
        return feed

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed.find("channel")
        assert channel is not None  # feedgen always writes one
        for hub in self.head.hubs:
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", href=hub, rel="hub")
        for rel, href in self.head.archive_links:
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", href=href, rel=rel,
                             type=self.head.media_type)
        if self.head.is_archive:
            etree.SubElement(channel, f"{{{FH_NS}}}archive")
        return feed


class _EntryExtension(BaseEntryExtension):
    """Entry-level repairs and additions: Atom links with rel/type, xml:lang, authors, images."""

    article: Article
    link: str
    base_url: str

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        entry.set(XML_LANG, self.article.language)
        # feedgen writes Atom elements without a namespace under a default xmlns; so do we.
        for old in entry.findall("link"):
            entry.remove(old)
        own = etree.SubElement(entry, "link", href=self.link, rel="alternate", type="text/html")
        if self.article.translations:
            own.set("hreflang", self.article.language)
        for other in self.article.translations:
            etree.SubElement(entry, "link", href=other.link(self.base_url), rel="alternate",
                             type="text/html", hreflang=other.language)
        for image in self.article.images:
            etree.SubElement(entry, "link", href=image.url, rel="enclosure",
                             type=_image_type(image.url), title=xml_safe(image.alt))
        return entry

    def extend_rss(self, item: etree._Element) -> etree._Element:
        for name in self.article.authors:
            etree.SubElement(item, f"{{{DC_NS}}}creator").text = xml_safe(name)
        etree.SubElement(item, f"{{{DC_NS}}}language").text = self.article.language
        for image in self.article.images:
            media = etree.SubElement(item, f"{{{MEDIA_NS}}}content", url=image.url,
                                     medium="image", type=_image_type(image.url))
            etree.SubElement(media, f"{{{MEDIA_NS}}}description").text = xml_safe(image.alt)
        return item


def _generator(head: FeedHead, articles: list[Article]) -> FeedGenerator:
    fg = FeedGenerator()
    fg.register_extension("syndicate", _HeadExtension, _EntryExtension)
    fg.syndicate.head = head
    updated = feed_updated(articles)
    fg.id(head.feed_id)
    fg.title(xml_safe(head.title))
    fg.subtitle(xml_safe(head.subtitle))  # RSS <description> too
    fg.author({"name": xml_safe(head.author)})
    fg.generator("syndicate")
    if head.language:
        fg.language(head.language)
    fg.updated(updated)
    fg.lastBuildDate(updated)
    if articles:
        fg.pubDate(max(aware_utc(a.published_at) for a in articles))
    fg.link(href=head.self_url, rel="self", type=head.media_type)
    for hub in head.hubs:
        fg.link(href=hub, rel="hub")
    for rel, href in head.archive_links:
        fg.link(href=href, rel=rel, type=head.media_type)
    # Must stay the last link() call: it becomes the RSS channel <link>.
    fg.link(href=head.site_url, rel="alternate", type="text/html")
    for article in articles:
        _add_entry(fg, head, article)
    return fg


def _add_entry(fg: FeedGenerator, head: FeedHead, article: Article) -> None:
    fe = fg.add_entry(order="append")
    link = article.link(head.base_url)
    fe.syndicate.article = article
    fe.syndicate.link = link
    fe.syndicate.base_url = head.base_url
    guid = xml_safe(article.guid)
    fe.guid(guid, permalink=guid == link)
    fe.title(xml_safe(article.title))
    fe.link(href=link, rel="alternate", type="text/html")
    fe.summary(excerpt(article), type="text")
    fe.content(xml_safe(article.body_html), type="html")
    fe.published(aware_utc(article.published_at))
    fe.updated(aware_utc(article.updated_at))
    for name in article.authors:
        fe.author({"name": xml_safe(name)})
    for category in article.categories:
        fe.category({"term": xml_safe(category)})
    if article.images:
        first = article.images[0]
        fe.enclosure(first.url, "0", _image_type(first.url))


def render_atom(head: FeedHead, articles: list[Article]) -> bytes:
    """An Atom 1.0 document of `articles` in the given order (newest first); deterministic."""
    fg = _generator(head, articles)
    data: bytes = fg.atom_str(pretty=True, encoding="UTF-8")
    return data


def render_rss(head: FeedHead, articles: list[Article]) -> bytes:
    """An RSS 2.0 document of `articles` in the given order (newest first); deterministic."""
    fg = _generator(head, articles)
    data: bytes = fg.rss_str(pretty=True, encoding="UTF-8")
    return data


def atom_time(moment: datetime) -> str:
    """RFC 3339 in UTC, as written in Atom and JSON Feed."""
    return aware_utc(moment).isoformat()
