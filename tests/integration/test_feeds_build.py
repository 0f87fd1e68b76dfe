"""Feeds built from stored articles: validity, edits, determinism, scoped rebuilds, archives."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from syndicate.bootstrap import Container
from syndicate.feeds.service import FeedService, feeds_root
from syndicate.web.app import create_app
from tests.conftest import EXAMPLES
from tests.unit.feeds_validity import A, check_atom, check_json, check_rss, parse_ok

FH = "{http://purl.org/syndication/history/1.0}"

UNUSUAL: list[dict[str, Any]] = [
    {"guid": "u-cyr", "title": "Министры обороны обсудили учения", "language": "ru",
     "body_html": "<p>В Минске состоялось заседание.</p>", "categories": ["security"],
     "published_at": "2026-03-01T10:00:00+03:00"},
    {"guid": "u-ar", "title": "وزراء الدفاع يناقشون التدريبات", "language": "ar",
     "body_html": "<p>نص المقال</p>", "published_at": "2026-03-01T11:00:00+00:00"},
    {"guid": "u-emoji", "title": "Launch 🚀 party 🎉", "summary": "🎉", "body_text": "Fun 🎈",
     "published_at": "2026-03-01T12:00:00Z"},
    {"guid": "u-cdata", "title": "Breaking ]]> <script>alert(1)</script>",
     "body_html": "<p>a ]]> b</p><script>alert(1)</script><p>c</p>",
     "published_at": "2026-03-01T13:00:00Z"},
    # No guid: its id is a tag URI; markup and entities in its title are stored as text.
    {"title": "Statement <b>on</b> the &lt;i&gt;exercise&lt;/i&gt; &amp; R&amp;D",
     "body_text": "Plain.", "published_at": "2026-03-01T13:30:00Z"},
    {"guid": "u-ctrl", "title": "Control\x01 chars\x0b here", "body_html": "<p>x\x08y</p>",
     "published_at": "2026-03-01T14:00:00Z"},
    {"guid": "u-long", "title": "Long " + "title " * 80, "body_html": "<p>long</p>",
     "published_at": "2026-03-01T15:00:00Z"},
    {"guid": "u-nosummary", "title": "No summary", "body_html": "<p>Only a body.</p>",
     "published_at": "2026-03-01T16:00:00Z", "authors": ["Иван Петров", "Jane Roe"]},
    {"guid": "u-cats", "title": "Many categories", "body_html": "<p>cats</p>",
     "categories": [f"topic-{n}" for n in range(25)], "published_at": "2026-03-01T17:00:00Z",
     "images": [{"url": "https://cdn.example/a.png", "alt": "A"}, {"url": "https://cdn.example/b.jpg",
                                                                    "alt": "B"}]},
]


def service_of(container: Container) -> FeedService:
    return container.feed_service(feeds_root(container.settings))


def read(container: Container, relpath: str) -> bytes:
    return (feeds_root(container.settings) / relpath).read_bytes()


def all_files(container: Container) -> dict[str, bytes]:
    root = feeds_root(container.settings)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.*"))
            if ".locks" not in p.parts}


@pytest.fixture
def loaded(make_container: Callable[..., Any]) -> Container:
    container: Container = make_container(base_url="https://news.example",
                                          websub_hubs="https://hub.example/")
    for path in sorted(EXAMPLES.iterdir()):
        container.articles.import_file(path)
    for data in UNUSUAL:
        container.articles.ingest(data)
    service_of(container).build_all()
    return container


def test_every_built_feed_is_valid_and_equals_the_stored_articles(loaded: Container) -> None:
    files = all_files(loaded)
    assert {"rss.xml", "atom.xml", "feed.json", "lang/ru/atom.xml", "lang/ar/rss.xml",
            "category/security/feed.json", "category/topic-24/atom.xml"} <= set(files)
    stored = {a["guid"]: a for a in map(json.loads, _articles_json(loaded))}
    for relpath, data in files.items():
        if relpath.startswith("sitemap"):
            continue  # the sitemaps written next to the feeds: see the sitemap tests below
        if relpath.endswith("atom.xml"):
            check_atom(data)
        elif relpath.endswith("rss.xml"):
            check_rss(data)
        else:
            check_json(data)
            continue
        for entry in parse_ok(data).entries:
            article = stored[entry.id]
            assert entry.title == article["title"]
            assert entry.link == article["url"]
            assert entry.content[0].value == article["body_html"]
    atom = parse_ok(files["atom.xml"])
    cdata = next(e for e in atom.entries if e.id == "u-cdata")
    assert "<script>" not in cdata.content[0].value and "]]" in cdata.content[0].value
    tagged = next(e for e in atom.entries if e.id.endswith("/statement-on-the-exercise-r-d"))
    assert tagged.id == "tag:news.example,2026:article/statement-on-the-exercise-r-d"
    assert tagged.title == "Statement on the exercise & R&D"
    ctrl = next(e for e in atom.entries if e.id == "u-ctrl")
    assert ctrl.title == "Control chars here"
    assert next(e for e in atom.entries if e.id == "u-cyr").updated == "2026-03-01T07:00:00+00:00"
    hubs = [x.get("href") for x in etree.fromstring(files["rss.xml"]).iter(f"{A}link")
            if x.get("rel") == "hub"]
    assert hubs == ["https://hub.example/"]


def _articles_json(container: Container) -> list[str]:
    from syndicate.storage.articles import ArticleQueries

    with container.session_factory() as session:
        articles = ArticleQueries(session).newest(limit=1000)
    return [json.dumps({"guid": a.guid, "title": a.title, "body_html": a.body_html,
                        "url": a.link(container.settings.base_url)}) for a in articles]


def test_building_twice_gives_identical_bytes_and_etags(loaded: Container) -> None:
    before = all_files(loaded)
    result = service_of(loaded).build_all()
    assert result.changed == [] and all_files(loaded) == before
    client = TestClient(create_app(loaded))
    etag = client.get("/feeds/atom.xml").headers["etag"]
    service_of(loaded).build_all()
    again = client.get("/feeds/atom.xml", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""


def test_editing_keeps_the_guid_and_moves_updated_in_every_feed_of_the_article(loaded: Container) -> None:
    first = loaded.articles.ingest(UNUSUAL[0])
    edited = loaded.articles.ingest({**UNUSUAL[0], "body_html": "<p>Исправленный текст.</p>"})
    assert edited.article.id == first.article.id
    result = service_of(loaded).rebuild_article(edited.article.id)
    changed = {str(p.relative_to(feeds_root(loaded.settings))) for p in result.changed}
    assert {"atom.xml", "rss.xml", "feed.json", "lang/ru/atom.xml", "category/security/rss.xml"} <= changed
    assert not any(p.startswith(("lang/en", "lang/ar", "category/topic")) for p in changed)
    for relpath in ("atom.xml", "lang/ru/atom.xml", "category/security/atom.xml"):
        entry = next(e for e in parse_ok(read(loaded, relpath)).entries if e.id == "u-cyr")
        assert entry.content[0].value == "<p>Исправленный текст.</p>"
        assert entry.updated == edited.article.updated_at.isoformat()
        assert entry.updated != entry.published
    doc = json.loads(read(loaded, "feed.json"))
    item = next(i for i in doc["items"] if i["id"] == "u-cyr")
    assert item["date_modified"] == edited.article.updated_at.isoformat()
    assert etree.fromstring(read(loaded, "atom.xml")).findtext(f"{A}updated") == \
        edited.article.updated_at.isoformat()


def test_rebuild_is_idempotent(loaded: Container) -> None:
    article = loaded.articles.ingest({"guid": "fresh", "title": "Fresh", "body_text": "x",
        "categories": ["world"]})
    assert service_of(loaded).rebuild_article(article.article.id).changed
    assert service_of(loaded).rebuild_article(article.article.id).changed == []


def test_removing_a_category_rebuilds_and_then_removes_that_feed(loaded: Container) -> None:
    art = loaded.articles.ingest({"guid": "solo", "title": "Solo", "body_text": "x",
        "categories": ["lonely"]})
    service = service_of(loaded)
    service.rebuild_article(art.article.id)
    assert b"solo" in read(loaded, "category/lonely/atom.xml")
    moved = loaded.articles.ingest({"guid": "solo", "title": "Solo", "body_text": "x",
        "categories": ["other"]})
    service.rebuild_article(moved.article.id)
    assert not (feeds_root(loaded.settings) / "category/lonely/atom.xml").exists()
    assert b"solo" in read(loaded, "category/other/atom.xml")
    client = TestClient(create_app(loaded))
    assert client.get("/feeds/category/lonely/atom.xml").status_code == 404
    assert client.get("/feeds/lang/zz/atom.xml").status_code == 404


def test_fresh_install_builds_a_missing_feed_on_first_request(make_container: Callable[..., Any]) -> None:
    container: Container = make_container()
    container.articles.import_file(EXAMPLES / "peacekeeping-exercise.json")
    client = TestClient(create_app(container))
    response = client.get("/feeds/rss.xml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert parse_ok(response.content).entries
    assert (feeds_root(container.settings) / "rss.xml").exists()
    assert client.get("/feeds/feed.json").headers["content-type"] == "application/feed+json; charset=utf-8"


def _publish(container: Container, n: int) -> int:
    result = container.articles.ingest({"guid": f"a{n}", "title": f"A{n}", "body_text": f"text {n}",
                                "categories": ["world"], "published_at": f"2026-01-01T{n:02d}:00:00Z"})
    return result.article.id


def _walk_archives(container: Container, relpath: str) -> list[str]:
    """Follow prev-archive links from a subscription feed as an aggregator backfilling would."""
    base = f"{container.settings.base_url}/feeds/"
    root = etree.fromstring(read(container, relpath))
    ids = [e.findtext(f"{A}id") for e in root.findall(f"{A}entry")]
    while (prev := next((x.get("href") for x in root.findall(f"{A}link")
                         if x.get("rel") == "prev-archive"), None)) is not None:
        root = etree.fromstring(read(container, prev.removeprefix(base)))
        assert root.find(f"{FH}archive") is not None
        ids += [e.findtext(f"{A}id") for e in root.findall(f"{A}entry")]
    return [i for i in ids if i]


def test_archives_let_an_aggregator_backfill_the_whole_history(make_container: Callable[..., Any]) -> None:
    container: Container = make_container(feed_items=4, feed_archive_size=3)
    service = service_of(container)
    for n in range(1, 11):
        service.rebuild_article(_publish(container, n))
    root = feeds_root(container.settings)
    assert sorted(p.name for p in (root / "archive").iterdir()) == ["1", "2", "3"]
    assert set(_walk_archives(container, "atom.xml")) == {f"a{n}" for n in range(1, 11)}
    assert set(_walk_archives(container, "category/world/atom.xml")) == {f"a{n}" for n in range(1, 11)}
    page1 = etree.fromstring(read(container, "archive/1/atom.xml"))
    assert [e.findtext(f"{A}id") for e in page1.findall(f"{A}entry")] == ["a3", "a2", "a1"]
    rels = {x.get("rel"): x.get("href") for x in page1.findall(f"{A}link")}
    assert rels["current"].endswith("/feeds/atom.xml") and "prev-archive" not in rels
    assert rels["next-archive"].endswith("/feeds/archive/2/atom.xml")
    check_atom(read(container, "archive/2/atom.xml"))
    check_rss(read(container, "archive/2/rss.xml"))
    page3 = read(container, "archive/3/atom.xml")
    assert b"next-archive" not in page3
    frozen = {p: read(container, p) for p in ("archive/1/atom.xml", "archive/2/atom.xml")}
    for n in (11, 12):
        service.rebuild_article(_publish(container, n))
    assert b"next-archive" in read(container, "archive/3/atom.xml")  # page 4 was cut
    assert {p: read(container, p) for p in frozen} == frozen  # full pages are immutable
    service.build_all()
    assert {p: read(container, p) for p in frozen} == frozen


def test_editing_an_archived_article_updates_its_page(make_container: Callable[..., Any]) -> None:
    container: Container = make_container(feed_items=3, feed_archive_size=3)
    service = service_of(container)
    for n in range(1, 8):
        service.rebuild_article(_publish(container, n))
    edited = container.articles.ingest({"guid": "a2", "title": "A2 corrected", "body_text": "text 2",
                                "categories": ["world"], "published_at": "2026-01-01T02:00:00Z"})
    service.rebuild_article(edited.article.id)
    page1 = parse_ok(read(container, "archive/1/atom.xml"))
    assert next(e for e in page1.entries if e.id == "a2").title == "A2 corrected"


@pytest.mark.postgres
def test_build_and_archives_on_postgresql(make_container: Callable[..., Any], pg_url: str) -> None:
    container: Container = make_container(database_url=pg_url, feed_items=3, feed_archive_size=2)
    service = service_of(container)
    for n in range(1, 6):
        service.rebuild_article(_publish(container, n))
    check_atom(read(container, "atom.xml"))
    assert set(_walk_archives(container, "atom.xml")) == {f"a{n}" for n in range(1, 6)}
    before = all_files(container)
    assert service.build_all().changed == [] and all_files(container) == before


def test_feed_paths_are_under_public_dir(make_container: Callable[..., Any], tmp_path: Path) -> None:
    container: Container = make_container(public_dir=tmp_path / "www")
    container.articles.import_file(EXAMPLES / "secretariat-briefing.md")
    service_of(container).build_all()
    assert (tmp_path / "www" / "feeds" / "atom.xml").exists()


def test_back_dated_articles_join_the_archive_page_of_their_time(make_container: Callable[..., Any]) -> None:
    container: Container = make_container(feed_items=3, feed_archive_size=3)
    service = service_of(container)
    for n in range(10, 17):
        service.rebuild_article(_publish(container, n))
    for n in (1, 14):  # before the first page, and inside page 2's range
        result = container.articles.ingest({"guid": f"old{n}", "title": f"Old {n}", "body_text": "x",
                                    "categories": ["world"], "published_at": f"2026-01-01T{n:02d}:30:00Z"})
        service.rebuild_article(result.article.id)
    page1 = [e.id for e in parse_ok(read(container, "archive/1/atom.xml")).entries]
    page2 = [e.id for e in parse_ok(read(container, "archive/2/atom.xml")).entries]
    assert page1 == ["a12", "a11", "a10", "old1"]
    assert page2 == ["a15", "old14", "a14", "a13"]
    assert set(_walk_archives(container, "atom.xml")) >= {"old1", "old14"}


def test_bad_feed_settings_are_refused_by_name(make_container: Callable[..., Any]) -> None:
    from syndicate.errors import ConfigError

    container: Container = make_container(feed_items=0)
    with pytest.raises(ConfigError, match="FEED_ITEMS must be at least 1, got 0"):
        service_of(container)


def test_unpublished_article_leaves_every_feed_and_archive(make_container: Any) -> None:

    container = make_container(feed_items=2, feed_archive_size=2)
    service = service_of(container)
    ids = []
    for n in range(5):
        result = container.articles.ingest({"title": f"Story {n}", "body_text": "x", "categories": ["world"],
                                    "published_at": f"2026-01-0{n + 1}T10:00:00Z"})
        ids.append(result.article.id)
    service.build_all()
    root = feeds_root(container.settings)
    assert b"Story 0" in (root / "archive" / "1" / "atom.xml").read_bytes()
    container.articles.unpublish(ids[0])
    container.articles.unpublish(ids[4])
    service.rebuild_article(ids[0])
    service.rebuild_article(ids[4])
    for path in ("atom.xml", "rss.xml", "feed.json", "category/world/atom.xml", "lang/en/rss.xml",
                 "archive/1/atom.xml"):
        data = (root / path).read_bytes()
        assert b"Story 0" not in data and b"Story 4" not in data, path
    assert b"Story 3" in (root / "atom.xml").read_bytes()


def test_a_build_waits_for_a_builder_on_another_host(make_container: Any, pg_url: str) -> None:
    """Workers on two hosts share the database, not a lock folder: the database lock orders them."""
    import threading

    from syndicate.feeds.model import FeedSpec, Scope
    from syndicate.storage.locks import exclusive

    container: Container = make_container(database_url=pg_url)
    container.articles.ingest({"title": "Locked story", "body_text": "x",
        "published_at": "2026-01-01T10:00:00Z"})
    other_host_holds = threading.Event()
    release = threading.Event()

    def other_host() -> None:
        with exclusive(container.engine, "feed-build:site"):
            other_host_holds.set()
            release.wait(30)

    holder = threading.Thread(target=other_host)
    holder.start()
    assert other_host_holds.wait(10)
    built = threading.Event()

    def build() -> None:
        service_of(container).build(FeedSpec(Scope.SITE))
        built.set()

    builder = threading.Thread(target=build)
    builder.start()
    try:
        assert not built.wait(1.0), "the build ran while another host held the feed's lock"
    finally:
        release.set()
        holder.join(10)
    assert built.wait(30)
    builder.join(10)
    assert b"Locked story" in read(container, "atom.xml")


def test_sitemaps_are_built_with_the_feeds_served_and_listed_in_robots(loaded: Container) -> None:
    from tests.unit.test_feeds_sitemaps import NEWS, SM, assert_valid

    fresh = loaded.articles.ingest({"guid": "urn:t:fresh", "title": "Fresh statement",
                                    "body_text": "x", "language": "ru"}).article
    service_of(loaded).rebuild_article(fresh.id)
    client = TestClient(create_app(loaded))
    robots = client.get("/robots.txt")
    assert robots.status_code == 200
    assert "Sitemap: https://news.example/sitemap.xml" in robots.text
    assert "Sitemap: https://news.example/sitemap-news.xml" in robots.text
    sitemap = client.get("/sitemap.xml")
    assert sitemap.status_code == 200 and sitemap.headers["content-type"].startswith("application/xml")
    locs = {u.findtext(f"{SM}loc") for u in assert_valid(sitemap.content, "sitemap.xsd")}
    assert {"https://news.example/news/fresh-statement",
            "https://news.example/news/csto-anniversary"} <= locs
    news = client.get("/sitemap-news.xml")
    root = assert_valid(news.content)
    # Articles of the last 48 hours (undated examples were published at import); March's are out.
    recent = [u.findtext(f"{SM}loc") for u in root]
    assert recent[0] == "https://news.example/news/fresh-statement"
    assert "https://news.example/news/many-categories" not in recent and len(recent) < len(locs) - 2
    assert root.findtext(f".//{NEWS}language") == "ru"
    assert root.findtext(f".//{NEWS}name") == loaded.settings.site_title
    again = client.get("/sitemap.xml", headers={"If-None-Match": sitemap.headers["etag"]})
    assert again.status_code == 304


def test_sitemaps_are_built_on_request_on_a_fresh_install(make_container: Callable[..., Any]) -> None:
    from tests.unit.test_feeds_sitemaps import assert_valid

    container: Container = make_container(base_url="https://news.example")
    client = TestClient(create_app(container))
    assert_valid(client.get("/sitemap.xml").content, "sitemap.xsd")
    assert_valid(client.get("/sitemap-news.xml").content)


def test_atom_entries_of_a_story_link_each_others_languages(container: Container) -> None:
    base = container.settings.base_url
    container.articles.ingest({"guid": "tag:ministry,2026:river", "title": "River treaty", "slug": "river",
                               "language": "en", "body_text": "Signed.",
                               "published_at": "2026-03-01T10:00:00Z"})
    container.articles.ingest({"guid": "tag:ministry,2026:river-ru", "title": "Договор по реке",
                               "slug": "river-ru", "language": "ru", "body_text": "Подписан.",
                               "translation_of": "tag:ministry,2026:river",
                               "published_at": "2026-03-01T10:05:00Z"})
    service_of(container).build_all()
    atom = read(container, "atom.xml")
    check_atom(atom)
    entries = {e.id: e for e in parse_ok(atom).entries}
    alternates = {guid: [(x.get("hreflang"), x["href"]) for x in e.links if x["rel"] == "alternate"]
                  for guid, e in entries.items()}
    assert alternates["tag:ministry,2026:river"] == [("en", f"{base}/news/river"),
                                                     ("ru", f"{base}/news/river-ru")]
    assert alternates["tag:ministry,2026:river-ru"] == [("ru", f"{base}/news/river-ru"),
                                                        ("en", f"{base}/news/river")]
    # The language feeds carry the same alternates.
    ru_entry = parse_ok(read(container, "lang/ru/atom.xml")).entries[0]
    assert ("en", f"{base}/news/river") in [(x.get("hreflang"), x["href"]) for x in ru_entry.links]


def test_photos_whose_files_never_arrived_get_no_enclosure_until_they_do(loaded: Container) -> None:
    article = next(a for a in loaded.article_reader.newest(limit=100) if a.images)
    media = [i.url for i in article.images]
    assert media and all(url.startswith(loaded.settings.public_media_url) for url in media)
    atom = read(loaded, "atom.xml").decode()
    assert not any(url in atom for url in media)  # no enclosure pointing at a 404
    name = media[0].rsplit("/", 1)[1]
    (loaded.settings.var_dir / "media").mkdir(parents=True, exist_ok=True)
    (loaded.settings.var_dir / "media" / name).write_bytes(b"\xff\xd8 a photo")
    service_of(loaded).build_all()
    atom = read(loaded, "atom.xml").decode()
    assert media[0] in atom and not any(url in atom for url in media[1:])
