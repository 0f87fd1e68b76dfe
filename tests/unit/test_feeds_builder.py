"""RSS/Atom/JSON documents: one test per feedgen 1.0.0 trap, odd articles, determinism."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from lxml import etree

from syndicate.domain.articles import Article
from syndicate.feeds.builder import FeedHead, render_atom, render_rss
from syndicate.feeds.jsonfeed import render_json
from tests.unit.feeds_validity import (
    XML_LANG,
    A,
    check_atom,
    check_json,
    check_rss,
    make_article,
    parse_ok,
)

BASE = "https://news.example"
HUBS = ("https://hub.example/", "https://pubsubhubbub.example/")


def head(media_type: str = "application/atom+xml", **changes: object) -> FeedHead:
    fields: dict[str, object] = {
        "title": "Newsroom", "subtitle": "Latest", "site_url": f"{BASE}/",
        "self_url": f"{BASE}/feeds/atom.xml", "feed_id": f"{BASE}/feeds/atom.xml", "author": "Newsroom",
        "base_url": BASE, "media_type": media_type, "language": "en", "hubs": HUBS,
    }
    fields.update(changes)
    return FeedHead(**fields)  # type: ignore[arg-type]


def newest_first(count: int) -> list[Article]:
    return [make_article(n) for n in range(count, 0, -1)]


def rss_head() -> FeedHead:
    return head("application/rss+xml", self_url=f"{BASE}/feeds/rss.xml")


# --- the feedgen traps -------------------------------------------------------------------------

def test_atom_content_is_escaped_html_never_cdata() -> None:
    article = make_article(1, body_html="<p>a ]]> b <em>c</em></p>")
    data = render_atom(head(), [article])
    assert b"CDATA" not in data
    content = etree.fromstring(data).find(f"{A}entry/{A}content")
    assert content is not None and content.get("type") == "html"
    assert content.text == "<p>a ]]> b <em>c</em></p>"


def test_rss_content_encoded_is_escaped_not_cdata() -> None:
    data = render_rss(rss_head(), [make_article(1, body_html="<p>x ]]> y</p>")])
    assert b"CDATA" not in data
    item = parse_ok(data).entries[0]
    assert item.content[0].value == "<p>x ]]> y</p>"


def test_rss_channel_link_is_the_site_not_the_last_other_link() -> None:
    data = render_rss(rss_head(), newest_first(2))
    channel = check_rss(data)
    assert channel.findtext("link") == f"{BASE}/"


def test_rss_keeps_hub_links_as_atom_link() -> None:
    channel = check_rss(render_rss(rss_head(), newest_first(1)))
    hubs = [x.get("href") for x in channel.findall(f"{A}link") if x.get("rel") == "hub"]
    assert hubs == list(HUBS)


def test_atom_has_hub_links_and_one_self() -> None:
    root = check_atom(render_atom(head(), newest_first(1)))
    rels = [x.get("rel") for x in root.findall(f"{A}link")]
    assert rels.count("hub") == 2 and rels.count("self") == 1


def test_entries_keep_the_given_order_newest_first() -> None:
    articles = newest_first(5)
    for render in (render_atom, render_rss):
        d = parse_ok(render(head(), articles))
        assert [e.id for e in d.entries] == [a.guid for a in articles]
    doc = check_json(render_json(head(), articles))
    assert [i["id"] for i in doc["items"]] == [a.guid for a in articles]


def test_no_now_timestamps_updated_is_the_newest_item_update() -> None:
    articles = newest_first(3)
    articles[1] = replace(articles[1], updated_at=articles[0].updated_at + timedelta(days=2))
    root = etree.fromstring(render_atom(head(), articles))
    assert root.findtext(f"{A}updated") == articles[1].updated_at.isoformat()
    channel = etree.fromstring(render_rss(rss_head(), articles)).find("channel")
    assert channel is not None
    assert channel.findtext("lastBuildDate") == articles[1].updated_at.strftime("%a, %d %b %Y %H:%M:%S +0000")


@pytest.mark.parametrize("render", [render_atom, render_rss, render_json])
def test_same_data_gives_identical_bytes(render: object) -> None:
    first = render(head(), newest_first(4))  # type: ignore[operator]
    second = render(head(), newest_first(4))  # type: ignore[operator]
    assert first == second


def test_empty_feed_is_stable_and_valid() -> None:
    data = render_atom(head(), [])
    assert data == render_atom(head(), [])
    assert etree.fromstring(data).findtext(f"{A}updated") == "1970-01-01T00:00:00+00:00"
    check_rss(render_rss(rss_head(), []))


def test_naive_datetimes_are_taken_as_utc() -> None:
    aware = make_article(1)
    naive = replace(aware, published_at=aware.published_at.replace(tzinfo=None),
                    updated_at=aware.updated_at.replace(tzinfo=None))
    assert render_atom(head(), [naive]) == render_atom(head(), [aware])
    assert render_rss(rss_head(), [naive]) == render_rss(rss_head(), [aware])


def test_xml_forbidden_characters_are_dropped_not_raised() -> None:
    article = make_article(1, title="bad\x00\x01\x0b title\ufffe", summary="s\x1f",
                           body_html="<p>\x08body</p>", authors=("A\x02nn",))
    atom = check_atom(render_atom(head(), [article]))
    assert atom.findtext(f"{A}entry/{A}title") == "bad title"
    check_rss(render_rss(rss_head(), [article]))
    assert "\x00" not in render_json(head(), [article]).decode()


def test_atom_entry_links_keep_rel_and_type() -> None:
    root = etree.fromstring(render_atom(head(), [make_article(7)]))
    links = {x.get("rel"): x for x in root.findall(f"{A}entry/{A}link")}
    assert links["alternate"].get("type") == "text/html"
    assert links["alternate"].get("href") == f"{BASE}/news/article-7"
    assert links["enclosure"].get("type") == "image/jpeg"
    assert links["enclosure"].get("href") == "https://cdn.example/7.jpg"


def test_atom_entries_carry_the_storys_other_languages_as_hreflang_alternates() -> None:
    from syndicate.domain.articles import Translation

    translated = replace(make_article(7), translations=(
        Translation(8, "g-8", "article-8-ru", "ru"), Translation(9, "g-9", "article-9-uk", "uk")))
    data = render_atom(head(), [translated, make_article(6)])
    check_atom(data)
    first, second = etree.fromstring(data).findall(f"{A}entry")
    alternates = [(x.get("hreflang"), x.get("href"), x.get("type"))
                  for x in first.findall(f"{A}link") if x.get("rel") == "alternate"]
    assert alternates == [("en", f"{BASE}/news/article-7", "text/html"),
                          ("ru", f"{BASE}/news/article-8-ru", "text/html"),
                          ("uk", f"{BASE}/news/article-9-uk", "text/html")]
    # An article alone keeps its single alternate, with no hreflang (bytes as before).
    [alone] = [x for x in second.findall(f"{A}link") if x.get("rel") == "alternate"]
    assert alone.get("hreflang") is None
    links = parse_ok(data).entries[0].links
    assert [(x.get("hreflang"), x["href"]) for x in links if x["rel"] == "alternate"] == [
        ("en", f"{BASE}/news/article-7"), ("ru", f"{BASE}/news/article-8-ru"),
        ("uk", f"{BASE}/news/article-9-uk")]


# --- content of items --------------------------------------------------------------------------

UNUSUAL = [
    make_article(1, title="Министры обороны обсудили учения", language="ru", body_html="<p>Минск</p>"),
    make_article(2, title="وزراء الدفاع يناقشون التدريبات", language="ar", body_html="<p dir=\"rtl\">نص</p>"),
    make_article(3, title="Emoji 🎉🚀 news", summary="party 🎉"),
    make_article(4, body_html="<p>a ]]> b &lt;script&gt;alert(1)&lt;/script&gt;</p>"),
    make_article(5, title="T" * 2000, summary=""),
    make_article(6, categories=tuple(f"cat-{n}" for n in range(40)), images=()),
    make_article(7, authors=(), summary="", body_html="<p>" + "word " * 200 + "</p>"),
]


def test_unusual_articles_are_valid_and_round_trip_in_every_format() -> None:
    articles = list(reversed(UNUSUAL))
    atom = parse_ok(render_atom(head(), articles))
    rss = parse_ok(render_rss(rss_head(), articles))
    check_atom(render_atom(head(), articles))
    check_rss(render_rss(rss_head(), articles))
    doc = check_json(render_json(head(), articles))
    rows = zip(articles, atom.entries, rss.entries, doc["items"], strict=True)
    for article, a_entry, r_entry, j_item in rows:
        for entry in (a_entry, r_entry):
            assert entry.title == article.title
            assert entry.id == article.guid
            assert entry.link == f"{BASE}/news/{article.slug}"
            assert entry.content[0].value == article.body_html
        assert a_entry.updated == article.updated_at.isoformat()
        assert a_entry.published == article.published_at.isoformat()
        assert j_item["title"] == article.title and j_item["content_html"] == article.body_html
    assert len(atom.entries[1].tags) == 40


def test_item_language_and_authors() -> None:
    article = make_article(1, language="ru", authors=("Иван Петров", "Ann"))
    root = etree.fromstring(render_atom(head(), [article]))
    entry = root.find(f"{A}entry")
    assert entry is not None and entry.get(XML_LANG) == "ru"
    assert [n.text for n in entry.findall(f"{A}author/{A}name")] == ["Иван Петров", "Ann"]
    rss = etree.fromstring(render_rss(rss_head(), [article]))
    creators = rss.findall("channel/item/{http://purl.org/dc/elements/1.1/}creator")
    assert [c.text for c in creators] == ["Иван Петров", "Ann"]
    item = json.loads(render_json(head(), [article]))["items"][0]
    assert item["language"] == "ru" and item["authors"] == [{"name": "Иван Петров"}, {"name": "Ann"}]


def test_missing_summary_falls_back_to_body_text() -> None:
    article = make_article(1, summary="", body_html="<p>First <b>words</b> here.</p>")
    entry = parse_ok(render_atom(head(), [article])).entries[0]
    assert entry.summary == "First words here."


def test_archive_document_carries_fh_archive_and_links() -> None:
    links = (("current", f"{BASE}/feeds/atom.xml"), ("prev-archive", f"{BASE}/feeds/archive/1/atom.xml"))
    data = render_atom(head(is_archive=True, archive_links=links, hubs=()), newest_first(2))
    root = check_atom(data)
    assert root.find("{http://purl.org/syndication/history/1.0}archive") is not None
    rels = {x.get("rel"): x.get("href") for x in root.findall(f"{A}link")}
    assert rels["current"] == f"{BASE}/feeds/atom.xml"
    assert rels["prev-archive"].endswith("/archive/1/atom.xml")
    channel = check_rss(render_rss(head("application/rss+xml", is_archive=True, archive_links=links),
                                   newest_first(2)))
    assert channel.find("{http://purl.org/syndication/history/1.0}archive") is not None
    assert {x.get("rel") for x in channel.findall(f"{A}link")} >= {"current", "prev-archive"}
