"""Article events reach a real worker, which rebuilds the feed files and pings WebSub hubs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from syndicate.errors import WebSubPingFailed
from syndicate.feeds import websub
from tests.conftest import EXAMPLES, free_port, production_env, run_cli, wait_for

SAMPLE = str(EXAMPLES / "peacekeeping-exercise.json")


class Hub:
    """A WebSub hub on loopback that records publish pings and fails the first `fail_first`."""

    def __init__(self, fail_first: int = 0) -> None:
        self.pings: list[dict[str, list[str]]] = []
        self.fail_first = fail_first
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                form = parse_qs(self.rfile.read(length).decode())
                if hub.fail_first > 0:
                    hub.fail_first -= 1
                    self.send_response(503)
                else:
                    hub.pings.append(form)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def urls(self) -> set[str]:
        return {p["hub.url"][0] for p in self.pings if p.get("hub.mode") == ["publish"]}


@pytest.fixture
def hub() -> Iterator[Hub]:
    h = Hub(fail_first=1)
    yield h
    h.server.shutdown()


def test_ping_sends_publish_form_and_raises_on_refusal() -> None:
    h = Hub(fail_first=1)
    try:
        with pytest.raises(WebSubPingFailed, match="HTTP 503"):
            websub.ping(h.url, "http://127.0.0.1:8000/feeds/atom.xml")
        assert websub.ping(h.url, "http://127.0.0.1:8000/feeds/atom.xml") == 204
        assert h.pings == [{"hub.mode": ["publish"], "hub.url": ["http://127.0.0.1:8000/feeds/atom.xml"],
                            "hub.topic": ["http://127.0.0.1:8000/feeds/atom.xml"]}]
        with pytest.raises(WebSubPingFailed, match="ConnectError"):
            websub.ping(f"http://127.0.0.1:{free_port()}/", "x", client=httpx.Client(timeout=2))
    finally:
        h.server.shutdown()


def _feed_has(path: Path, needle: bytes) -> bool:
    return path.exists() and needle in path.read_bytes()


@pytest.mark.postgres
@pytest.mark.redis
def test_worker_rebuilds_feeds_and_pings_the_hub_with_retry(
    pg_url: str, redis_server: str, queue_name: str, embedded_env: dict[str, str], start_worker: Any,
    hub: Hub, tmp_path: Path,
) -> None:
    public = tmp_path / "www"
    env = production_env(embedded_env, database_url=pg_url, redis_url=redis_server, queue=queue_name)
    env |= {"WEBSUB_HUBS": hub.url, "PUBLIC_DIR": str(public)}
    assert run_cli(["db", "upgrade"], env).returncode == 0
    start_worker(env, "--concurrency", "1")
    imported = run_cli(["articles", "import", SAMPLE], env)
    assert imported.returncode == 0, imported.stderr
    feeds = public / "feeds"
    built = [feeds / "atom.xml", feeds / "category" / "exercises" / "rss.xml",
             feeds / "lang" / "en" / "feed.json"]
    wait_for(lambda: all(_feed_has(p, b"peacekeeping") for p in built), 60, "the worker to build the feeds")
    expected = {f"http://127.0.0.1:8000/feeds/{name}" for name in ("atom.xml", "rss.xml", "feed.json")}
    wait_for(lambda: expected <= hub.urls(), 60, "the hub to receive publish pings (after a 503)")
    assert "http://127.0.0.1:8000/feeds/category/exercises/atom.xml" in hub.urls()


def test_embedded_worker_rebuilds_feeds_on_import(embedded_env: dict[str, str], start_worker: Any,
                                                  var_dir: Path) -> None:
    assert run_cli(["db", "upgrade"], embedded_env).returncode == 0
    start_worker(embedded_env)
    imported = run_cli(["articles", "import", SAMPLE], embedded_env)
    assert imported.returncode == 0, imported.stderr
    atom = var_dir / "public" / "feeds" / "atom.xml"
    wait_for(lambda: _feed_has(atom, b"peacekeeping"), 60, "the embedded worker to build atom.xml")
