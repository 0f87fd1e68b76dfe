"""The feed builder on in-memory ports: which feeds a rebuild writes, determinism, unpublishing,
archive pages, full builds, builds on request. Files go to a temporary folder."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from syndicate.domain.commands import PingHub
from syndicate.errors import ConfigError
from syndicate.feeds.model import SITE, FeedSpec, Scope, parse_path
from syndicate.feeds.service import FeedService, rebuild_article_feeds
from syndicate.settings import load_settings
from tests.unit.fakes.feeds import FakeLocks, FeedData
from tests.unit.fakes.tasks import FakeTaskQueue
from tests.unit.feeds_validity import T0, A, check_atom, check_json, check_rss, make_article, parse_ok

HUB = "https://hub.example/"
FORMATS = ("rss.xml", "atom.xml", "feed.json")


class Newsroom:
    """A feed service on fakes, writing under a temporary folder."""

    def __init__(self, tmp_path: Path, **overrides: Any) -> None:
        self.data = FeedData()
        self.locks = FakeLocks()
        self.root = tmp_path / "feeds"
        settings = load_settings(var_dir=tmp_path, base_url="https://news.example", websub_hubs=HUB,
                                 **overrides)
        self.service = FeedService(settings, self.data.uow, self.locks, self.root)

    def publish(self, n: int, **changes: Any) -> int:
        """Store article `n` and rebuild its feeds, as the worker does after an import."""
        self.data.put(make_article(n, **changes))
        self.service.rebuild_article(n)
        return n

    def files(self) -> dict[str, bytes]:
        """Every feed file under the root, by path relative to it."""
        return {str(p.relative_to(self.root)): p.read_bytes() for p in sorted(self.root.rglob("*.*"))
                if ".locks" not in p.parts}

    def ids(self, relpath: str) -> list[str]:
        """The entry ids of an Atom file, in document order."""
        return [e.id for e in parse_ok((self.root / relpath).read_bytes()).entries]


@pytest.fixture
def newsroom(tmp_path: Path) -> Newsroom:
    return Newsroom(tmp_path)


def _folders(paths: list[Path], root: Path) -> set[str]:
    return {str(p.relative_to(root).parent).replace(".", "") for p in paths}


def test_rebuilding_one_article_touches_exactly_the_site_its_categories_and_its_language(
    newsroom: Newsroom,
) -> None:
    newsroom.data.put(make_article(1, categories=("world",), language="en"))
    newsroom.data.put(make_article(2, categories=("sport",), language="fr"))
    newsroom.data.put(make_article(3, categories=("world", "politics"), language="ru"))
    newsroom.service.build_all()
    before = newsroom.files()
    newsroom.locks.taken.clear()
    edited = make_article(3, categories=("world", "politics"), language="ru", title="Article 3, corrected",
                          updated_at=T0 + timedelta(days=1))
    newsroom.data.put(edited)

    result = newsroom.service.rebuild_article(3)

    expected = {"", "category/world", "category/politics", "lang/ru"}
    assert _folders(result.changed, newsroom.root) == expected
    assert len(result.changed) == len(expected) * len(FORMATS)
    assert newsroom.locks.taken == ["feed-build:site", "feed-build:category:world",
                                    "feed-build:category:politics", "feed-build:lang:ru",
                                    "feed-build:sitemaps"]
    after = newsroom.files()
    for relpath in ("category/sport/atom.xml", "lang/fr/rss.xml", "lang/en/feed.json"):
        assert after[relpath] == before[relpath], relpath
    for relpath in ("atom.xml", "category/politics/atom.xml", "lang/ru/atom.xml"):
        entry = next(e for e in parse_ok(after[relpath]).entries if e.id == "urn:test:3")
        assert entry.title == "Article 3, corrected"
    assert newsroom.data.memberships[3] == [SITE, FeedSpec(Scope.CATEGORY, "world"),
                                            FeedSpec(Scope.CATEGORY, "politics"),
                                            FeedSpec(Scope.LANGUAGE, "ru")]


def test_identical_data_gives_identical_bytes_and_pings_no_hub(newsroom: Newsroom) -> None:
    for n in (1, 2, 3):
        newsroom.data.put(make_article(n))
    newsroom.service.build_all()
    before = newsroom.files()
    tasks = FakeTaskQueue()

    again = rebuild_article_feeds(newsroom.service, 2, tasks=tasks)

    assert again.changed == [] and again.changed_urls == [] and tasks.submitted == []
    assert newsroom.service.build_all().changed == []
    assert newsroom.files() == before


def test_a_new_article_pings_each_hub_once_per_changed_feed_url(newsroom: Newsroom) -> None:
    newsroom.data.put(make_article(1))
    newsroom.service.build_all()
    newsroom.data.put(make_article(2, categories=("sport",)))
    tasks = FakeTaskQueue()

    result = rebuild_article_feeds(newsroom.service, 2, tasks=tasks)

    assert tasks.submitted == [PingHub(HUB, url) for url in result.changed_urls]
    assert {"https://news.example/feeds/atom.xml", "https://news.example/feeds/category/sport/rss.xml",
            "https://news.example/feeds/lang/en/feed.json"} <= set(result.changed_urls)
    assert not any("/category/world/" in url for url in result.changed_urls)


def test_an_unpublished_article_leaves_every_feed_and_archive_page(tmp_path: Path) -> None:
    newsroom = Newsroom(tmp_path, feed_items=2, feed_archive_size=2)
    for n in range(1, 6):
        newsroom.data.put(make_article(n))
    newsroom.data.put(make_article(6, categories=("lonely",), language="de"))
    newsroom.service.build_all()
    assert "urn:test:1" in newsroom.ids("archive/1/atom.xml")
    assert (newsroom.root / "category/lonely/atom.xml").exists()

    for n in (1, 5, 6):
        newsroom.data.unpublish(n, T0 + timedelta(days=2))
        newsroom.service.rebuild_article(n)

    for relpath, data in newsroom.files().items():
        for n in (1, 5, 6):
            assert f"urn:test:{n}".encode() not in data, (relpath, n)
    assert newsroom.ids("atom.xml") == ["urn:test:4", "urn:test:3"]
    assert not any((newsroom.root / "category/lonely" / name).exists() for name in FORMATS)
    assert not any((newsroom.root / "lang/de" / name).exists() for name in FORMATS)
    assert newsroom.data.memberships[1] == [] and newsroom.data.memberships[6] == []


def test_a_deleted_article_leaves_the_feeds_it_was_in(newsroom: Newsroom) -> None:
    newsroom.publish(1)
    newsroom.publish(2, categories=("lonely",))
    del newsroom.data.articles[2]

    newsroom.service.rebuild_article(2)

    assert newsroom.ids("atom.xml") == ["urn:test:1"]
    assert not (newsroom.root / "category/lonely/atom.xml").exists()


def _links(root: etree._Element) -> dict[str | None, str | None]:
    return {x.get("rel"): x.get("href") for x in root.findall(f"{A}link")}


def test_archive_pages_fill_and_then_never_change(tmp_path: Path) -> None:
    newsroom = Newsroom(tmp_path, feed_items=4, feed_archive_size=3)
    for n in range(1, 11):
        newsroom.publish(n)

    assert sorted(p.name for p in (newsroom.root / "archive").iterdir()) == ["1", "2", "3"]
    assert newsroom.ids("archive/1/atom.xml") == ["urn:test:3", "urn:test:2", "urn:test:1"]
    assert newsroom.ids("atom.xml") == [f"urn:test:{n}" for n in (10, 9, 8, 7)]
    subscription = _links(etree.fromstring((newsroom.root / "atom.xml").read_bytes()))
    assert subscription["prev-archive"] == "https://news.example/feeds/archive/3/atom.xml"
    page1 = etree.fromstring((newsroom.root / "archive/1/atom.xml").read_bytes())
    assert page1.find("{http://purl.org/syndication/history/1.0}archive") is not None
    assert _links(page1)["next-archive"] == "https://news.example/feeds/archive/2/atom.xml"
    assert "next-archive" not in _links(etree.fromstring((newsroom.root / "archive/3/atom.xml").read_bytes()))
    check_rss((newsroom.root / "archive/2/rss.xml").read_bytes())
    frozen = {p: d for p, d in newsroom.files().items() if p.startswith(("archive/1/", "archive/2/"))}

    for n in (11, 12):
        newsroom.publish(n)
    newsroom.service.build_all()

    page3 = etree.fromstring((newsroom.root / "archive/3/atom.xml").read_bytes())
    assert _links(page3)["next-archive"] == "https://news.example/feeds/archive/4/atom.xml"
    assert {p: d for p, d in newsroom.files().items() if p in frozen} == frozen


def test_editing_an_archived_article_rewrites_only_its_page(tmp_path: Path) -> None:
    newsroom = Newsroom(tmp_path, feed_items=3, feed_archive_size=3)
    for n in range(1, 8):
        newsroom.publish(n)
    page2 = newsroom.files()["archive/2/atom.xml"]

    newsroom.data.put(make_article(2, title="Article 2, corrected", updated_at=T0 + timedelta(days=1)))

    result = newsroom.service.rebuild_article(2)

    changed = {str(p.relative_to(newsroom.root)) for p in result.changed}
    assert {"archive/1/atom.xml", "archive/1/rss.xml"} <= changed
    assert not any(p.startswith("archive/2/") for p in changed)
    page1 = parse_ok(newsroom.files()["archive/1/atom.xml"])
    assert next(e for e in page1.entries if e.id == "urn:test:2").title == "Article 2, corrected"
    assert newsroom.files()["archive/2/atom.xml"] == page2


def test_feeds_build_writes_every_feed(newsroom: Newsroom) -> None:
    newsroom.data.put(make_article(1, categories=("world",), language="en"))
    newsroom.data.put(make_article(2, categories=("sport", "Bad Slug"), language="fr"))
    built: list[FeedSpec] = []

    result = newsroom.service.build_all(progress=built.append)

    folders = ["", "category/sport", "category/world", "lang/en", "lang/fr"]
    assert sorted(str(p.relative_to(newsroom.root)) for p in result.paths) == sorted(
        f"{folder}/{name}".lstrip("/") for folder in folders for name in FORMATS)
    # The sitemaps are written next to the feeds (served at the site root, pinging no hub).
    assert sorted(newsroom.files()) == sorted(
        [str(p.relative_to(newsroom.root)) for p in result.paths] + ["sitemap-news.xml", "sitemap.xml"])
    assert built == newsroom.service.all_specs() and len(built) == len(folders)
    for path in result.paths:
        {"rss.xml": check_rss, "atom.xml": check_atom, "feed.json": check_json}[path.name](path.read_bytes())
    assert [i["id"] for i in json.loads((newsroom.root / "lang/fr/feed.json").read_bytes())["items"]] == \
        ["urn:test:2"]


def test_the_site_feed_is_written_even_with_no_article(newsroom: Newsroom) -> None:
    result = newsroom.service.build_all()

    assert sorted(p.name for p in result.paths) == sorted(FORMATS)
    check_atom((newsroom.root / "atom.xml").read_bytes())


def test_a_request_builds_a_missing_feed_only_when_it_has_articles(newsroom: Newsroom) -> None:
    newsroom.data.put(make_article(1, categories=("world",)))

    assert newsroom.service.build_on_request(parse_path("category/world/atom.xml"))
    assert all((newsroom.root / "category/world" / name).exists() for name in FORMATS)
    assert not newsroom.service.build_on_request(parse_path("category/nobody/atom.xml"))
    assert not newsroom.service.build_on_request(parse_path("archive/1/atom.xml"))
    assert not (newsroom.root / "category/nobody").exists() and not (newsroom.root / "archive").exists()


def test_bad_feed_settings_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="FEED_ARCHIVE_SIZE must be at least 1, got 0"):
        Newsroom(tmp_path, feed_archive_size=0)

