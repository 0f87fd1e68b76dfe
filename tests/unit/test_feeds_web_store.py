"""Serving feeds from the database store: same headers as from files, new builds seen after a recheck."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

from starlette.testclient import TestClient

from syndicate.feeds.documents import make_document
from syndicate.feeds.folder import FeedFolder
from syndicate.feeds.model import FeedPath
from syndicate.feeds.outputs import StoredFeeds
from syndicate.web.feed_sources import StoreSource
from syndicate.web.feeds import FeedFiles
from tests.unit.fakes.feeds import MemoryDocuments

ATOM = (Path(__file__).parent / "feeds_validity.py").read_bytes()
MODIFIED = datetime(2026, 3, 1, 12, 0, 30, 250000, tzinfo=UTC)


class NoBuilds:
    def build_on_request(self, requested: FeedPath) -> bool:
        return False


def _apps(tmp_path: Path, recheck: float = 0.0) -> tuple[MemoryDocuments, TestClient, TestClient]:
    """The same document in a folder and in the store, each behind its own app."""
    documents = MemoryDocuments()
    folder = tmp_path / "feeds"
    StoredFeeds(documents, tmp_path / "locks", export=None).write("atom.xml", ATOM, MODIFIED)
    FeedFolder(folder).write("atom.xml", ATOM, MODIFIED)
    stored = TestClient(FeedFiles(NoBuilds(), StoreSource(documents, recheck_seconds=recheck)))
    files = TestClient(FeedFiles(NoBuilds(), folder))
    return documents, stored, files


def test_store_answers_exactly_like_the_files(tmp_path: Path) -> None:
    _, stored, files = _apps(tmp_path)
    for encoding in ("identity", "gzip"):
        a = stored.get("/feeds/atom.xml", headers={"accept-encoding": encoding})
        b = files.get("/feeds/atom.xml", headers={"accept-encoding": encoding})
        assert a.status_code == b.status_code == 200
        assert a.content == b.content == ATOM
        for header in ("etag", "last-modified", "cache-control", "vary", "content-type",
                       "content-length", "content-encoding"):
            assert a.headers.get(header) == b.headers.get(header), header
    assert stored.get("/feeds/atom.xml").headers["last-modified"] == "Sun, 01 Mar 2026 12:00:30 GMT"
    etag = stored.get("/feeds/atom.xml", headers={"accept-encoding": "gzip"}).headers["etag"]
    assert etag.endswith('-gz"')
    r = stored.get("/feeds/atom.xml", headers={"accept-encoding": "gzip", "if-none-match": etag})
    assert r.status_code == 304 and r.content == b""
    head = stored.head("/feeds/atom.xml", headers={"accept-encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(ATOM)
    assert stored.get("/feeds/rss.xml").status_code == 404


def test_a_new_build_is_served_after_the_recheck_and_bytes_are_read_once_per_version(
    tmp_path: Path,
) -> None:
    documents, stored, _ = _apps(tmp_path)
    first = stored.get("/feeds/atom.xml").headers["etag"]
    for _ in range(3):
        assert stored.get("/feeds/atom.xml").headers["etag"] == first
    assert documents.reads == 1  # unchanged: stamps checked, bytes not read again
    documents.put(make_document("atom.xml", ATOM + b"<!-- new -->", MODIFIED))
    r = stored.get("/feeds/atom.xml", headers={"accept-encoding": "gzip"})
    assert r.content == ATOM + b"<!-- new -->" and r.headers["etag"] != first
    assert gzip.decompress(documents.rows["atom.xml"][1].gzip_body or b"") == ATOM + b"<!-- new -->"
    documents.delete("atom.xml")
    assert stored.get("/feeds/atom.xml").status_code == 404


def test_within_the_recheck_interval_no_query_is_made(tmp_path: Path) -> None:
    documents, stored, _ = _apps(tmp_path, recheck=3600)
    for _ in range(5):
        assert stored.get("/feeds/atom.xml").status_code == 200
    assert (documents.reads, documents.stamps) == (1, 0)


def test_the_store_takes_any_path_under_the_feed_root(tmp_path: Path) -> None:
    documents = MemoryDocuments()
    out = StoredFeeds(documents, tmp_path / "locks", export=None)
    assert out.write("sitemap.xml", b"<urlset/>", MODIFIED)
    assert not out.write("sitemap.xml", b"<urlset/>", MODIFIED)  # same bytes: nothing changes
    assert documents.rows["sitemap.xml"][1].media_type == "application/xml; charset=utf-8"
    assert str(out.path("category/world/rss.xml")) == "/feeds/category/world/rss.xml"
