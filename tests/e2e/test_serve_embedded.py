"""`syndicate serve` in embedded mode, as `make run` starts it: pages, health, and its own worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select

from syndicate.storage.models import OutboxRow
from tests.conftest import EXAMPLES, ROOT, free_port, run_cli, wait_for


def handled_events(var_dir: Path) -> list[bool]:
    engine = create_engine(f"sqlite:///{var_dir / 'syndicate.db'}")
    try:
        with engine.connect() as conn:
            return [r[0] is not None for r in conn.execute(select(OutboxRow.handled_at))]
    finally:
        engine.dispose()


def test_serve_shows_examples_and_runs_its_worker(
    embedded_env: dict[str, str], var_dir: Path, tmp_path: Path
) -> None:
    paths = sorted(str(p) for p in EXAMPLES.iterdir() if p.suffix in {".txt", ".md", ".json"})
    assert run_cli(["db", "upgrade"], embedded_env).returncode == 0
    assert run_cli(["articles", "import", *paths], embedded_env).returncode == 0
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "syndicate.cli.main", "serve", "--port", str(port)],
            env=embedded_env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        def healthy() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 60, "/healthz to answer 200")
        news = httpx.get(f"{base}/news", timeout=5)
        assert news.status_code == 200
        for title in (
            "A quarter of a century together: CSTO celebrates anniversary",
            "Peacekeeping forces complete joint exercise",
            "Secretariat briefing: priorities for the coming year",
            "Министры обороны государств — членов ОДКБ обсудили подготовку совместных учений",
        ):
            assert title in news.text
        ru = httpx.get(f"{base}/news/ministers-meeting-ru", timeout=5)
        assert '<html lang="ru">' in ru.text
        token = (var_dir / "admin_token").read_text().strip()
        assert f"Admin token: {token}" in log_path.read_text()
        # The embedded worker (a real Celery worker on the file broker) handles every event.
        wait_for(lambda: (h := handled_events(var_dir)) and all(h), 60, "the embedded worker")
        assert len(handled_events(var_dir)) == len(paths)
        # Its scheduler runs the outbox relay: /healthz and /metrics say it is alive.
        wait_for(lambda: httpx.get(f"{base}/healthz", timeout=5).json().get("scheduler") == "ok", 60,
                 "the scheduler's first heartbeat")
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert "syndicate_scheduler_last_seen_seconds " in metrics
        assert "syndicate_feed_build_seconds " in metrics  # the worker rebuilt the feeds
        assert "syndicate_outbox_pending 0.0" in metrics
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert server.returncode is not None


def worker_pids(serve_pid: int) -> list[int]:
    """Process ids of `serve`'s worker children (Celery's solo pool runs in the child itself)."""
    found = subprocess.run(["pgrep", "-P", str(serve_pid)], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def test_serve_keeps_a_worker_running_through_a_bad_message_and_a_killed_worker(
    embedded_env: dict[str, str], var_dir: Path, serve: Any
) -> None:
    server = serve(embedded_env)
    queue = var_dir / "broker" / "queue"
    wait_for(lambda: queue.is_dir() and worker_pids(server.proc.pid), 30, "the embedded worker")
    # What kombu's own file transport could leave for a worker to read: an empty message file,
    # named to be read first. The worker must set it aside and go on.
    (queue / "00000000000000000000_empty.syndicate.msg").write_bytes(b"")
    imported = run_cli(["articles", "import", str(EXAMPLES / "csto-anniversary.txt")], embedded_env)
    assert imported.returncode == 0, imported.stderr
    wait_for(lambda: handled_events(var_dir) == [True], 60, "the first event handled")
    assert [p.name for p in (var_dir / "broker" / "rejected").iterdir()] == [
        "00000000000000000000_empty.syndicate.msg"]

    # A worker that dies (OOM killer, crash) is replaced, and the new one delivers.
    (first,) = worker_pids(server.proc.pid)
    os.kill(first, signal.SIGKILL)
    imported = run_cli(["articles", "import", str(EXAMPLES / "secretariat-briefing.md")], embedded_env)
    assert imported.returncode == 0, imported.stderr
    wait_for(lambda: handled_events(var_dir) == [True, True], 90, "the event handled by a new worker")
    assert first not in worker_pids(server.proc.pid)
    assert f"the worker exited with code -{signal.SIGKILL.value}" in server.log.read_text()
    # Nothing of the dead worker is left: its scheduler (a child process) would run twice. What
    # remains is the new worker and its own scheduler.
    wait_for(lambda: len(worker_processes(var_dir)) == 2, 30, "one worker and one scheduler")
    (second,) = worker_pids(server.proc.pid)
    assert second in worker_processes(var_dir)


def worker_processes(var_dir: Path) -> list[int]:
    """Live `syndicate worker` processes (workers and their schedulers) using this var/."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if (b"syndicate.cli.main\0worker" in cmdline and f"VAR_DIR={var_dir}".encode() in environ
                and state != "Z"):
            found.append(int(proc.name))
    return found


def test_the_worker_does_not_outlive_serve(embedded_env: dict[str, str], var_dir: Path, serve: Any) -> None:
    """A closed terminal (SIGHUP) stops serve and its worker; so does serve being killed outright."""
    hung_up = serve(embedded_env)
    wait_for(lambda: len(worker_processes(var_dir)) == 2, 30, "the worker and its scheduler")
    os.kill(hung_up.proc.pid, signal.SIGHUP)
    assert hung_up.proc.wait(timeout=30) is not None
    wait_for(lambda: worker_processes(var_dir) == [], 30, "no worker after SIGHUP")

    killed = serve(embedded_env)
    wait_for(lambda: len(worker_processes(var_dir)) == 2, 30, "the worker and its scheduler")
    os.kill(killed.proc.pid, signal.SIGKILL)
    killed.proc.wait(timeout=10)
    wait_for(lambda: worker_processes(var_dir) == [], 60, "no worker after serve was killed")
