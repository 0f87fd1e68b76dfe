"""Events reach a real, separate Celery worker on Redis + PostgreSQL, even across a broker outage."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from syndicate.storage.models import OutboxRow
from tests.conftest import EXAMPLES, free_port, port_open, production_env, run_cli, wait_for

SAMPLE = str(EXAMPLES / "csto-anniversary.txt")


def outbox_rows(database_url: str) -> list[tuple[str, Any, Any]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(OutboxRow.event_type, OutboxRow.dispatched_at, OutboxRow.handled_at)
                .order_by(OutboxRow.id)
            ).all()
            return [tuple(r) for r in rows]
    finally:
        engine.dispose()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """A redis-server of this test's own on a free port, which the test may stop and start."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (Debian package redis-server)")
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        wait_for(lambda: port_open("127.0.0.1", port), 20, "redis-server to listen")
        return proc

    start.port = port  # type: ignore[attr-defined]
    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def test_import_delivers_event_to_separate_worker(
    pg_url: str, redis_server: str, queue_name: str, embedded_env: dict[str, str], start_worker: Any
) -> None:
    env = production_env(embedded_env, database_url=pg_url, redis_url=redis_server, queue=queue_name)
    assert run_cli(["db", "upgrade"], env).returncode == 0
    worker = start_worker(env, "--concurrency", "1")
    imported = run_cli(["articles", "import", SAMPLE], env)
    assert imported.returncode == 0, imported.stderr
    article_id, slug, url = imported.stdout.strip().split("\t")
    assert slug == "csto-anniversary" and url == "http://127.0.0.1:8000/news/csto-anniversary"
    wait_for(lambda: all(r[2] for r in outbox_rows(pg_url)), 60, "the worker to handle the event")
    assert [r[0] for r in outbox_rows(pg_url)] == ["article.published"]
    log = worker.log_path.read_text()
    # An article without guid gets an RFC 4151 tag URI on BASE_URL's host and its year.
    assert re.search(rf"article.published article_id={article_id} "
                     r"guid=tag:127\.0\.0\.1,\d{4}:article/csto-anniversary ", log), log


def test_event_published_while_redis_is_down_arrives_later(
    pg_url: str, queue_name: str, embedded_env: dict[str, str], start_worker: Any, own_redis: Any
) -> None:
    redis_url = f"redis://127.0.0.1:{own_redis.port}/0"
    env = production_env(embedded_env, database_url=pg_url, redis_url=redis_url, queue=queue_name)
    env["OUTBOX_SWEEP_SECONDS"] = "1"
    assert run_cli(["db", "upgrade"], env).returncode == 0

    imported = run_cli(["articles", "import", SAMPLE], env)  # Redis is not running yet
    assert imported.returncode == 0, imported.stderr
    assert "broker unavailable, event 1 stays in the outbox" in imported.stderr
    [(event_type, dispatched, handled)] = outbox_rows(pg_url)
    assert (event_type, dispatched, handled) == ("article.published", None, None)

    own_redis()
    start_worker(env, "--with-beat")
    wait_for(lambda: outbox_rows(pg_url)[0][2] is not None, 90, "the relayed event to be handled")
    assert len(outbox_rows(pg_url)) == 1
