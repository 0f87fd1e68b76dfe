"""Two `serve` nodes and a worker sharing only PostgreSQL and Redis serve the same feeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import EXAMPLES, ROOT, free_port, production_env, run_cli, wait_for


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "syndicate.cli.main", "serve", "--no-worker", "--port", str(port)],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _atom(url: str) -> tuple[bytes, str] | None:
    try:
        r = httpx.get(f"{url}/feeds/atom.xml", headers={"accept-encoding": "identity"}, timeout=5)
    except httpx.HTTPError:
        return None
    return (r.content, r.headers.get("etag", "")) if r.status_code == 200 else None


@pytest.mark.postgres
@pytest.mark.redis
def test_two_serve_nodes_without_a_shared_disk_serve_the_same_feed_after_a_publish(
    pg_url: str, redis_server: str, queue_name: str, embedded_env: dict[str, str], start_worker: Any,
    nodes: list[subprocess.Popen[bytes]], tmp_path: Path,
) -> None:
    base = production_env(embedded_env, database_url=pg_url, redis_url=redis_server, queue=queue_name)
    base |= {"BASE_URL": "http://news.example"}
    envs = []
    for name in ("worker", "web-a", "web-b", "cli"):  # each process its own VAR_DIR: no common files
        var = tmp_path / name
        var.mkdir()
        envs.append(base | {"VAR_DIR": str(var)})
    worker_env, env_a, env_b, cli_env = envs
    assert run_cli(["db", "upgrade"], cli_env).returncode == 0
    start_worker(worker_env, "--concurrency", "1")
    urls = []
    for env, name in ((env_a, "a"), (env_b, "b")):
        port = free_port()
        nodes.append(_serve(env, port, tmp_path / f"serve-{name}.log"))
        urls.append(f"http://127.0.0.1:{port}")
    for url in urls:
        wait_for(lambda url=url: _atom(url) is not None, 60, f"{url} to serve /feeds/atom.xml")
    before = _atom(urls[0])
    assert before is not None and b"peacekeeping" not in before[0].lower()

    imported = run_cli(["articles", "import", str(EXAMPLES / "peacekeeping-exercise.json")], cli_env)
    assert imported.returncode == 0, imported.stderr

    def both_have_it() -> bool:
        answers = [_atom(url) for url in urls]
        return all(a is not None and b"peacekeeping" in a[0].lower() for a in answers) and \
            answers[0] == answers[1]

    wait_for(both_have_it, 60, "both serve nodes to serve the new feed with the same bytes and ETag")
    a, b = (_atom(url) for url in urls)
    assert a is not None and b is not None
    assert a == b and a[1] != before[1]
    for var in ("web-a", "web-b", "worker"):
        assert not list((tmp_path / var).rglob("atom.xml")), f"{var} wrote feed files"
    for url in urls:  # conditional GET works the same on each node
        r = httpx.get(f"{url}/feeds/atom.xml", headers={"if-none-match": a[1], "accept-encoding": "identity"})
        assert r.status_code == 304
