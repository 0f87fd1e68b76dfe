"""sitemap.xml (sitemaps.org 0.9) and the Google News sitemap, built with the feeds.

The news sitemap lists the articles published in the last 48 hours (Google's window, at most
1,000 URLs). Both schemas require at least one <url>: the sitemap always lists the home page,
and a news sitemap with no recent article lists the /news page without `news:news`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from lxml import etree

from syndicate.domain.articles import Article
from syndicate.feeds.model import aware_utc, xml_safe

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
NEWS_WINDOW = timedelta(hours=48)
MAX_NEWS_URLS = 1000
MAX_URLS = 50_000
SITEMAP_FILE = "sitemap.xml"
NEWS_SITEMAP_FILE = "sitemap-news.xml"


def news_language(tag: str) -> str:
    """Google News' language code of a BCP 47 tag: the ISO 639 code, or zh-cn / zh-tw."""
    parts = tag.lower().split("-")
    if parts[0] == "zh":
        return "zh-tw" if any(p in ("tw", "hk", "mo", "hant") for p in parts[1:]) else "zh-cn"
    return parts[0]


def _time(moment: datetime) -> str:
    return aware_utc(moment).isoformat()


def _url(root: etree._Element, loc: str, lastmod: datetime | None = None) -> etree._Element:
    url = etree.SubElement(root, f"{{{SITEMAP_NS}}}url")
    etree.SubElement(url, f"{{{SITEMAP_NS}}}loc").text = loc
    if lastmod is not None:
        etree.SubElement(url, f"{{{SITEMAP_NS}}}lastmod").text = _time(lastmod)
    return url


def _document(root: etree._Element) -> bytes:
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


def render_sitemap(base_url: str, articles: Sequence[Article]) -> bytes:
    """The sitemap of the home page, /news and every given (public) article page."""
    root = etree.Element(f"{{{SITEMAP_NS}}}urlset", nsmap={None: SITEMAP_NS})
    newest = max((a.updated_at for a in articles), default=None)
    _url(root, f"{base_url}/", newest)
    _url(root, f"{base_url}/news", newest)
    for article in articles[: MAX_URLS - 2]:
        _url(root, article.link(base_url), article.updated_at)
    return _document(root)


def render_news_sitemap(
    base_url: str, publication: str, articles: Sequence[Article], *, now: datetime
) -> bytes:
    """The Google News sitemap of the articles published within 48 hours before `now`."""
    root = etree.Element(f"{{{SITEMAP_NS}}}urlset", nsmap={None: SITEMAP_NS, "news": NEWS_NS})
    recent = [a for a in articles if now - NEWS_WINDOW <= aware_utc(a.published_at) <= now]
    for article in recent[:MAX_NEWS_URLS]:
        url = _url(root, article.link(base_url))
        news = etree.SubElement(url, f"{{{NEWS_NS}}}news")
        pub = etree.SubElement(news, f"{{{NEWS_NS}}}publication")
        etree.SubElement(pub, f"{{{NEWS_NS}}}name").text = xml_safe(publication)
        etree.SubElement(pub, f"{{{NEWS_NS}}}language").text = news_language(article.language)
        etree.SubElement(news, f"{{{NEWS_NS}}}publication_date").text = _time(article.published_at)
        etree.SubElement(news, f"{{{NEWS_NS}}}title").text = xml_safe(article.title)
    if not recent:
        _url(root, f"{base_url}/news")
    return _document(root)
