"""sitemap.xml and the Google News sitemap validate against their XSD schemas (local copies in
tests/data/xsd, reconstructed, not fetched) and list what a crawler should find."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree

from syndicate.feeds.sitemaps import news_language, render_news_sitemap, render_sitemap
from tests.unit.feeds_validity import T0, make_article

XSD = Path(__file__).resolve().parents[1] / "data" / "xsd"
BASE = "https://news.example"
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"


def assert_valid(data: bytes, schema_file: str = "sitemap-with-news.xsd") -> etree._Element:
    """The document validates against the schema; returns its root."""
    schema = etree.XMLSchema(etree.parse(str(XSD / schema_file)))
    root = etree.fromstring(data)
    assert schema.validate(root), schema.error_log
    return root


def test_sitemap_lists_home_news_and_every_article_and_validates() -> None:
    articles = [make_article(n) for n in range(3, 0, -1)]
    root = assert_valid(render_sitemap(BASE, articles), "sitemap.xsd")
    locs = [u.findtext(f"{SM}loc") for u in root]
    assert locs == [f"{BASE}/", f"{BASE}/news"] + [f"{BASE}/news/article-{n}" for n in (3, 2, 1)]
    assert root[2].findtext(f"{SM}lastmod") == (T0 + timedelta(hours=3)).isoformat()


def test_news_sitemap_holds_the_last_48_hours_with_publication_language_and_date() -> None:
    articles = [
        make_article(60, title="Заявление <министров> & co", language="ru"),
        make_article(50, language="zh-Hant-TW"),
        make_article(11, language="en-GB"),  # 49 hours before `now`: out of the window
    ]
    data = render_news_sitemap(BASE, "CSTO Press", articles, now=T0 + timedelta(hours=60))
    root = assert_valid(data)
    urls = root.findall(f"{SM}url")
    assert [u.findtext(f"{SM}loc") for u in urls] == [f"{BASE}/news/article-60", f"{BASE}/news/article-50"]
    first = urls[0].find(f"{NEWS}news")
    assert first is not None
    assert first.findtext(f"{NEWS}publication/{NEWS}name") == "CSTO Press"
    assert first.findtext(f"{NEWS}publication/{NEWS}language") == "ru"
    assert first.findtext(f"{NEWS}publication_date") == (T0 + timedelta(hours=60)).isoformat()
    assert first.findtext(f"{NEWS}title") == "Заявление <министров> & co"
    assert urls[1].findtext(f"{NEWS}news/{NEWS}publication/{NEWS}language") == "zh-tw"


def test_news_sitemap_without_recent_articles_still_validates() -> None:
    data = render_news_sitemap(BASE, "Newsroom", [make_article(1)], now=T0 + timedelta(days=30))
    root = assert_valid(data)
    assert root.find(f".//{NEWS}news") is None


def test_schema_rejects_a_news_entry_without_publication() -> None:
    # The local schema copies are strict enough to catch a malformed entry.
    bad = (f'<urlset xmlns="{SM[1:-1]}" xmlns:news="{NEWS[1:-1]}"><url><loc>{BASE}/news/a</loc>'
           "<news:news><news:title>x</news:title></news:news></url></urlset>").encode()
    with pytest.raises(AssertionError):
        assert_valid(bad)


@pytest.mark.parametrize(("tag", "code"), [("en", "en"), ("en-GB", "en"), ("ru", "ru"),
                                          ("zh-Hans-CN", "zh-cn"), ("zh-TW", "zh-tw"), ("hy", "hy")])
def test_news_language_codes(tag: str, code: str) -> None:
    assert news_language(tag) == code
