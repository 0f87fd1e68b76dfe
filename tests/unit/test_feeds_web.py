"""Serving built feed files: ETag, Last-Modified, 304, gzip with Vary, HEAD, types, 404."""

from __future__ import annotations

import gzip
import os
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from syndicate.errors import FeedNotFound
from syndicate.feeds.model import FeedPath, FeedSpec, Scope, parse_path
from syndicate.web.feeds import FeedFiles
from tests.unit.feeds_validity import check_atom

ATOM = (Path(__file__).parent / "feeds_validity.py").read_bytes()  # any bytes of a realistic size


class FakeService:
    """Stands in for FeedService: knows the category 'world' only, counts builds."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.builds: list[FeedSpec] = []

    def build_on_request(self, requested: FeedPath) -> bool:
        spec = requested.spec
        if requested.archive_page is not None or not (spec.scope is Scope.SITE or spec.value == "world"):
            return False
        self.builds.append(spec)
        folder = self.root / spec.folder
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("rss.xml", "atom.xml", "feed.json"):
            (folder / name).write_bytes(b"<built/>" * 100)
        return True


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "feeds"
    folder.mkdir()
    (folder / "atom.xml").write_bytes(ATOM)
    stamp = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()
    os.utime(folder / "atom.xml", (stamp, stamp))
    return folder


@pytest.fixture
def client(root: Path) -> TestClient:
    return TestClient(FeedFiles(FakeService(root), root))


def test_get_has_validators_type_and_cache_headers(client: TestClient) -> None:
    r = client.get("/feeds/atom.xml", headers={"accept-encoding": "identity"})
    assert r.status_code == 200 and r.content == ATOM
    assert r.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert r.headers["etag"].startswith('"') and r.headers["etag"].endswith('"')
    assert r.headers["last-modified"] == "Sun, 01 Mar 2026 12:00:00 GMT"
    assert "max-age" in r.headers["cache-control"]
    assert r.headers["vary"] == "Accept-Encoding"


def test_if_none_match_gives_304_without_body(client: TestClient) -> None:
    etag = client.get("/feeds/atom.xml", headers={"accept-encoding": "identity"}).headers["etag"]
    r = client.get("/feeds/atom.xml", headers={"if-none-match": etag, "accept-encoding": "identity"})
    assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    r = client.get("/feeds/atom.xml", headers={"if-none-match": '"other"', "accept-encoding": "identity"})
    assert r.status_code == 200


def test_if_modified_since(client: TestClient) -> None:
    later = formatdate(datetime(2026, 3, 2, tzinfo=UTC).timestamp(), usegmt=True)
    earlier = formatdate(datetime(2026, 2, 1, tzinfo=UTC).timestamp(), usegmt=True)
    assert client.get("/feeds/atom.xml", headers={"if-modified-since": later}).status_code == 304
    assert client.get("/feeds/atom.xml", headers={"if-modified-since": earlier}).status_code == 200


def test_gzip_when_accepted_with_its_own_etag(client: TestClient) -> None:
    plain = client.get("/feeds/atom.xml", headers={"accept-encoding": "identity"})
    zipped = client.get("/feeds/atom.xml", headers={"accept-encoding": "gzip, br"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == ATOM  # httpx decodes: same bytes once unzipped
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.headers["etag"] != plain.headers["etag"]
    again = client.get("/feeds/atom.xml", headers={"accept-encoding": "gzip",
                                                   "if-none-match": zipped.headers["etag"]})
    assert again.status_code == 304
    refused = client.get("/feeds/atom.xml", headers={"accept-encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


def test_gzip_body_is_real_gzip(root: Path) -> None:
    app = FeedFiles(FakeService(root), root)
    with TestClient(app) as c:
        r = c.get("/feeds/atom.xml", headers={"accept-encoding": "gzip"})
    rep = app.source.cache["atom.xml"]  # type: ignore[attr-defined]
    assert rep.gzipped is not None and gzip.decompress(rep.gzipped) == ATOM
    assert int(r.headers["content-length"]) == len(rep.gzipped)


def test_head_has_headers_and_no_body(client: TestClient) -> None:
    r = client.head("/feeds/atom.xml", headers={"accept-encoding": "identity"})
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["content-length"]) == len(ATOM)


def test_a_rebuilt_file_is_served_with_a_new_etag(client: TestClient, root: Path) -> None:
    first = client.get("/feeds/atom.xml").headers["etag"]
    tmp = root / ".atom.tmp"
    tmp.write_bytes(ATOM + b"<!-- changed -->")
    os.replace(tmp, root / "atom.xml")
    second = client.get("/feeds/atom.xml")
    assert second.headers["etag"] != first and second.content.endswith(b"<!-- changed -->")


def test_unknown_paths_and_scopes_are_404(client: TestClient) -> None:
    for path in ("/feeds/nope.xml", "/feeds/category/unknown/rss.xml", "/feeds/lang/xx/atom.xml",
                 "/feeds/category/Bad Slug/rss.xml", "/feeds/archive/1/feed.json",
                 "/feeds/archive/9/atom.xml", "/feeds/../etc/passwd", "/feeds/"):
        assert client.get(path).status_code == 404, path


def test_missing_feed_of_a_known_category_is_built_once(root: Path) -> None:
    service = FakeService(root)
    with TestClient(FeedFiles(service, root)) as c:
        assert c.get("/feeds/category/world/rss.xml").status_code == 200
        assert c.get("/feeds/category/world/atom.xml").status_code == 200
    assert service.builds == [FeedSpec(Scope.CATEGORY, "world")]


def test_post_is_refused(client: TestClient) -> None:
    assert client.post("/feeds/atom.xml").status_code == 405


def test_parse_path() -> None:
    assert parse_path("category/world/archive/3/rss.xml").archive_page == 3
    assert parse_path("lang/pt-BR/feed.json").spec == FeedSpec(Scope.LANGUAGE, "pt-BR")
    for bad in ("category/x/y/rss.xml", "archive/0/atom.xml", "archive/x/atom.xml", "other/x/rss.xml"):
        with pytest.raises(FeedNotFound):
            parse_path(bad)


def test_served_atom_from_a_real_build_validates(tmp_path: Path) -> None:
    from syndicate.feeds.builder import FeedHead, render_atom
    from tests.unit.feeds_validity import make_article

    folder = tmp_path / "feeds"
    folder.mkdir()
    head = FeedHead(title="N", subtitle="S", site_url="https://n.example/",
                    self_url="https://n.example/feeds/atom.xml", feed_id="https://n.example/feeds/atom.xml",
                    author="N", base_url="https://n.example", media_type="application/atom+xml",
                    language="en")
    (folder / "atom.xml").write_bytes(render_atom(head, [make_article(2), make_article(1)]))
    with TestClient(FeedFiles(FakeService(folder), folder)) as c:
        check_atom(c.get("/feeds/atom.xml", headers={"accept-encoding": "gzip"}).content)
        check_atom(c.get("/feeds/atom.xml", headers={"accept-encoding": "identity"}).content)


def test_memory_copies_are_bounded(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import syndicate.web.feed_sources as sources

    monkeypatch.setattr(sources, "MAX_CACHED", 3)
    for n in range(1, 6):
        folder = root / "archive" / str(n)
        folder.mkdir(parents=True)
        (folder / "atom.xml").write_bytes(b"<feed/>" * n)
    app = FeedFiles(FakeService(root), root)
    with TestClient(app) as c:
        for n in range(1, 6):
            assert c.get(f"/feeds/archive/{n}/atom.xml").content == b"<feed/>" * n
    assert len(app.source.cache) == 3  # type: ignore[attr-defined]
