"""A subscriber CSV import through a real `syndicate serve` runs in a child process: the import
completes with the right counts while /healthz keeps answering, and no import process outlives
its server (SIGTERM stops both; a server killed outright leaves a child that stops by itself)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import run_cli, wait_for
from tests.e2e.conftest import Server

TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def start(embedded_env: dict[str, str], serve: Callable[..., Server]) -> tuple[Server, dict[str, str]]:
    env = embedded_env | {"ADMIN_TOKEN": TOKEN, "SECRET_KEY": "test-secret-key-0123456789"}
    assert run_cli(["lists", "create", "news", "--name", "News", "--frequency", "daily"], env).returncode == 0
    return serve(env, "--no-worker"), env


def csv_body(rows: int, start: int = 0) -> str:
    return "email,name,language\n" + "".join(f"user{n}@example.test,User {n},ru\n"
                                              for n in range(start, start + rows))


def job_children(pid: int) -> list[int]:
    """Processes whose parent is `pid` and that run a multiprocessing job (not its resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_large_import_completes_while_healthz_keeps_answering(
    embedded_env: dict[str, str], serve: Callable[..., Server]
) -> None:
    server, env = start(embedded_env, serve)
    rows = 50_000
    # Two bad lines and a repeat, at the end: the report names them, the rest are imported.
    body = csv_body(rows) + "not-an-address,X,en\nuser7@example.test,Again,en\nok@example.test,Ok,xx!\n"
    health: list[int] = []
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while not stop.is_set():
                health.append(client.get("/healthz").status_code)
                time.sleep(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as api:
            started = api.post("/api/subscribers/import", params={"list": "news", "confirmed": "true",
                                                                  "wait": "0"}, content=body)
            assert started.status_code == 202, started.text
            url = started.headers["location"]
            seen_progress = []
            deadline = time.monotonic() + 900
            while (job := api.get(url).json())["state"] == "running":
                assert time.monotonic() < deadline, job
                seen_progress.append(job["progress"].get("rows", 0))
                time.sleep(0.2)
        answered_during = len(health)
    finally:
        stop.set()
        poller.join()
    assert job["state"] == "done", job
    result = job["result"]
    assert (result["imported"], result["existing"], result["error_count"]) == (rows, 0, 3)
    assert result["rows"] == rows + 3
    assert [e.split(": ")[0] for e in result["errors"]] == ["upload.csv"] * 3
    assert f"line {rows + 2}" in result["errors"][0] and "repeats an earlier line" in result["errors"][1]
    assert max(seen_progress) > 0  # the admin saw the import advance
    # /healthz answered all along, every time with a 200.
    assert answered_during > 0 and set(health) == {200}
    listed = run_cli(["subscribers", "list", "--list", "news", "--json"], env)
    members = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(members) == rows and {m["language"] for m in members} == {"ru"}


def test_sigterm_stops_the_server_and_its_import_process(
    embedded_env: dict[str, str], serve: Callable[..., Server]
) -> None:
    server, _ = start(embedded_env, serve)
    started = httpx.post(f"{server.url}/api/subscribers/import?list=news&confirmed=true&wait=0",
                         content=csv_body(200_000), headers=AUTH, timeout=60)
    assert started.status_code == 202, started.text
    children = wait_for(lambda: job_children(server.proc.pid), 30, "the import's child process")
    assert isinstance(children, list)
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=60) is not None
    assert not [pid for pid in children if alive(pid)]


def test_an_import_process_stops_by_itself_when_its_server_is_killed(
    embedded_env: dict[str, str], serve: Callable[..., Server]
) -> None:
    server, _ = start(embedded_env, serve)
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as api:
        started = api.post("/api/subscribers/import?list=news&confirmed=true&wait=0",
                           content=csv_body(200_000))
        assert started.status_code == 202, started.text
        children = wait_for(lambda: job_children(server.proc.pid), 30, "the import's child process")
        assert isinstance(children, list)
        # Progress shows the child working before the server goes.
        wait_for(lambda: api.get(started.headers["location"]).json()["progress"].get("rows"), 120,
                 "the first chunk")
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=30)
    wait_for(lambda: not [pid for pid in children if alive(pid)], 120,
             "the orphaned import process to stop at its next chunk")
