"""FEED_STORE=database: built documents in the database, served from there, PUBLIC_DIR an export."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from syndicate.bootstrap import Container
from syndicate.feeds.service import feeds_root
from syndicate.web.app import create_app
from tests.conftest import EXAMPLES, wait_for
from tests.unit.feeds_validity import check_atom, check_json, check_rss

BACKENDS = ["sqlite", "postgresql"]


def _stored(make_container: Callable[..., Any], backend: str, request: pytest.FixtureRequest,
            **overrides: Any) -> Container:
    if backend == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_url")
    else:
        overrides.setdefault("feed_store", "database")
    container: Container = make_container(**overrides)
    for path in sorted(EXAMPLES.iterdir()):
        container.articles.import_file(path)
    return container


def test_the_store_is_chosen_by_the_database_unless_feed_store_says(
    make_container: Callable[..., Any],
) -> None:
    assert make_container().feed_documents is None  # SQLite: files in PUBLIC_DIR, as before
    assert make_container(feed_store="database").feed_documents is not None


@pytest.mark.parametrize("backend", BACKENDS)
def test_built_feeds_are_stored_and_served_from_the_database_without_files(
    backend: str, make_container: Callable[..., Any], request: pytest.FixtureRequest, tmp_path: Path,
) -> None:
    container = _stored(make_container, backend, request)
    assert container.feed_documents is not None
    result = container.feed_service().build_all()
    assert "/feeds/category/security/atom.xml" in {str(p) for p in result.paths}
    assert not feeds_root(container.settings).exists(), "no PUBLIC_DIR files without an export"
    # The same bytes a file build gives.
    files = container.feed_service(tmp_path / "out").build_all()
    assert files.paths
    for relpath, check in (("atom.xml", check_atom), ("rss.xml", check_rss), ("feed.json", check_json),
                           ("lang/ru/atom.xml", check_atom)):
        found = container.feed_documents.get(relpath)
        assert found is not None
        assert found[1].body == (tmp_path / "out" / relpath).read_bytes()
        check(found[1].body)
    assert container.feed_service().build_all().changed == []  # identical bytes: nothing written
    client = TestClient(create_app(container))
    r = client.get("/feeds/atom.xml", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert r.content == container.feed_documents.get("atom.xml")[1].body  # type: ignore[index]
    assert client.get("/feeds/atom.xml", headers={"accept-encoding": "gzip",
                                                  "if-none-match": r.headers["etag"]}).status_code == 304
    # The sitemaps the feed service writes next to the feeds are stored and served the same way.
    stored_sitemap = container.feed_documents.get("sitemap.xml")
    assert stored_sitemap is not None
    sitemap = client.get("/sitemap.xml")
    assert sitemap.status_code == 200 and sitemap.content == stored_sitemap[1].body
    assert sitemap.headers["etag"] == stored_sitemap[1].etag
    assert client.get("/sitemap.xml", headers={"if-none-match": sitemap.headers["etag"]}).status_code == 304


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_edit_moves_the_version_and_a_serving_node_sees_it(
    backend: str, make_container: Callable[..., Any], request: pytest.FixtureRequest,
) -> None:
    container = _stored(make_container, backend, request)
    container.feed_service().build_all()
    documents = container.feed_documents
    assert documents is not None
    stamp = documents.stamp("atom.xml")
    client = TestClient(create_app(container))
    before = client.get("/feeds/atom.xml", headers={"accept-encoding": "identity"})
    edited = container.articles.ingest({"guid": "fresh", "title": "Fresh news", "body_text": "x",
                                        "categories": ["world"]})
    container.feed_service().rebuild_article(edited.article.id)
    assert documents.stamp("atom.xml") not in (None, stamp)
    wait_for(lambda: b"Fresh news" in client.get("/feeds/atom.xml").content, 10, "the new build served")
    after = client.get("/feeds/atom.xml", headers={"accept-encoding": "identity"})
    assert after.headers["etag"] != before.headers["etag"]


@pytest.mark.postgres
def test_public_dir_stays_an_export_of_the_stored_documents(
    make_container: Callable[..., Any], pg_url: str, tmp_path: Path
) -> None:
    container: Container = make_container(database_url=pg_url, public_dir=tmp_path / "www")
    container.articles.import_file(EXAMPLES / "secretariat-briefing.md")
    result = container.feed_service().build_all()
    exported = tmp_path / "www" / "feeds" / "atom.xml"
    assert exported in result.paths
    assert container.feed_documents is not None
    assert container.feed_documents.get("atom.xml")[1].body == exported.read_bytes()  # type: ignore[index]


def test_a_feed_left_without_articles_is_removed_from_the_store(make_container: Callable[..., Any]) -> None:
    container: Container = make_container(feed_store="database")
    art = container.articles.ingest({"guid": "solo", "title": "Solo", "body_text": "x",
                                     "categories": ["lonely"]})
    service = container.feed_service()
    service.rebuild_article(art.article.id)
    assert container.feed_documents is not None
    assert container.feed_documents.get("category/lonely/atom.xml") is not None
    moved = container.articles.ingest({"guid": "solo", "title": "Solo", "body_text": "x",
                                       "categories": ["other"]})
    service.rebuild_article(moved.article.id)
    assert container.feed_documents.get("category/lonely/atom.xml") is None
    client = TestClient(create_app(container))
    assert client.get("/feeds/category/lonely/atom.xml").status_code == 404
    assert b"solo" in client.get("/feeds/category/other/atom.xml").content
