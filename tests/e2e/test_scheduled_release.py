"""A scheduled article, end to end with `syndicate serve` and its real worker: hidden from every
channel until its time, then on all of them (pages, feeds, the instant list's mail, partners),
and released by a worker that was not running at that time once it starts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port, run_cli, wait_for
from tests.integration.digest_helpers import SmtpSink
from tests.integration.partners_helpers import Receiver

FEEDS = ("/feeds/rss.xml", "/feeds/atom.xml", "/feeds/feed.json")


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    s = SmtpSink(port=free_port())
    controller = Controller(s, hostname="127.0.0.1", port=s.port)
    controller.start()
    yield s
    controller.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _setup(env: dict[str, str], tmp_path: Path, receiver: Receiver, ahead: Receiver | None = None) -> None:
    csv = tmp_path / "readers.csv"
    csv.write_text("email,name,language\nreader@example.com,Reader,en\n")
    for args in (["db", "upgrade"],
                 ["lists", "create", "flash", "--name", "Flash", "--frequency", "instant"],
                 ["subscribers", "import", str(csv), "--list", "flash", "--confirmed"],
                 ["partners", "add", "wire", receiver.url()],
                 *([["partners", "add", "agency", ahead.url(), "--embargoed"]] if ahead else [])):
        done = run_cli(args, env)
        assert done.returncode == 0, (args, done.stdout, done.stderr)


def _article(title: str, release: datetime) -> dict[str, Any]:
    return {"guid": f"urn:test:{title}", "title": title, "body_html": "<p>At its time, everywhere.</p>",
            "published_at": release.isoformat(), "language": "en", "categories": ["statements"]}


def _seen(base: str, title: str, sink: SmtpSink, receiver: Receiver) -> dict[str, bool]:
    """Where the article can be seen right now, channel by channel."""
    where = {"/news": title in httpx.get(f"{base}/news", timeout=5).text}
    for path in FEEDS:
        where[path] = title in httpx.get(f"{base}{path}", timeout=5).text
    where["mail"] = any(title in m["Subject"] or title in m.as_string() for m in sink.messages())
    where["partner"] = any(title.encode() in r.body for r in receiver.requests)
    return where


def _publish(base: str, token: str, article: dict[str, Any]) -> None:
    created = httpx.post(f"{base}/api/articles", json=article, timeout=10,
                         headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201, created.text


def _env(embedded_env: dict[str, str], sink: SmtpSink, receiver: Receiver) -> dict[str, str]:
    return embedded_env | {"SMTP_URL": sink.url, "PARTNER_ALLOW_PRIVATE": "1",
                           "ADMIN_TOKEN": "release-test-token-0123456789"}


def _events(receiver: Receiver, title: str) -> list[dict[str, Any]]:
    found = [json.loads(r.body) for r in receiver.requests if title.encode() in r.body]
    return [{"type": e["type"], "embargo_until": e["data"].get("embargo_until")} for e in found]


def test_a_scheduled_article_is_nowhere_until_its_time_then_everywhere(
    serve: Callable[..., Any], embedded_env: dict[str, str], tmp_path: Path, sink: SmtpSink,
    receiver: Receiver,
) -> None:
    env = _env(embedded_env, sink, receiver)
    ahead = Receiver()  # an agency that opted in to embargoed pushes
    try:
        _setup(env, tmp_path, receiver, ahead)
        server = serve(env)
        title = "Statement released at its time"
        release = datetime.now(UTC) + timedelta(seconds=20)
        _publish(server.url, env["ADMIN_TOKEN"], _article(title, release))

        # Until the release every channel is checked again and again: none may have it, but the
        # agency gets it ahead, marked with its release time.
        while datetime.now(UTC) < release - timedelta(seconds=2):
            assert not any(_seen(server.url, title, sink, receiver).values())
            time.sleep(1)
        notices = _events(ahead, title)
        assert [n["type"] for n in notices] == ["article.embargoed"], notices
        embargo_until = datetime.fromisoformat(str(notices[0]["embargo_until"]))
        assert abs((embargo_until - release).total_seconds()) < 1  # the release time, as stored

        wait_for(lambda: all(_seen(server.url, title, sink, receiver).values()), 60,
                 "the released article on /news, every feed, the instant mail and the partner")
        print(f"every channel had it {(datetime.now(UTC) - release).total_seconds():.1f} s after its time")
        wait_for(lambda: [n["type"] for n in _events(ahead, title)][-1:] == ["article.published"], 30,
                 "the agency's article.published at the release")
        time.sleep(3)  # released once: one mail, one push each
        assert len([m for m in sink.messages() if title in m.as_string()]) == 1
        assert [e["type"] for e in _events(receiver, title)] == ["article.published"]
        assert [e["type"] for e in _events(ahead, title)] == ["article.embargoed", "article.published"]
    finally:
        ahead.close()


def test_a_release_missed_while_no_worker_ran_happens_when_one_starts(
    serve: Callable[..., Any], embedded_env: dict[str, str], tmp_path: Path, sink: SmtpSink,
    receiver: Receiver,
) -> None:
    env = _env(embedded_env, sink, receiver)
    _setup(env, tmp_path, receiver)
    web = serve(env, "--no-worker")
    title = "Statement released while the worker was away"
    release = datetime.now(UTC) + timedelta(seconds=5)
    _publish(web.url, env["ADMIN_TOKEN"], _article(title, release))
    while datetime.now(UTC) < release + timedelta(seconds=5):
        time.sleep(0.5)
    seen = _seen(web.url, title, sink, receiver)
    # Pages and embedded feeds read the database (public once its time has come); what only a
    # worker does is still waiting: the instant mail and the partner push.
    assert seen["/news"] and not seen["mail"] and not seen["partner"], seen

    worker = serve(env)  # a second serve on the same var/ brings the worker and its scheduler
    wait_for(lambda: all(_seen(worker.url, title, sink, receiver).values()), 90,
             "the missed release, once a worker runs")
    time.sleep(3)
    assert len([m for m in sink.messages() if title in m.as_string()]) == 1
    assert len([r for r in receiver.requests if title.encode() in r.body]) == 1
