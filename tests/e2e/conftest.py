"""Fixtures for end-to-end tests: a running `syndicate serve` and headless Chromium."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port, wait_for
from tests.e2e.browser import browser_page  # noqa: F401  (fixture)


class Server:
    """A `syndicate serve` subprocess; `url` is its base URL, `log` its output file."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc = proc
        self.url = url
        self.log = log


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the test item, for fixtures that add detail to a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)  # type: ignore[attr-defined]
    return report


@pytest.fixture
def serve(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Server]]:
    """Start `syndicate serve --port P ARGS` with an env; stopped (whole group) after the test.

    When the test fails, the end of each server's log (web and embedded worker) is printed.
    """
    servers: list[Server] = []

    def start(env: dict[str, str], *args: str) -> Server:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = env | {"BASE_URL": url}
        log = tmp_path / f"serve-{len(servers)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "syndicate.cli.main", "serve", "--port", str(port), *args],
                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        server = Server(proc, url, log)
        servers.append(server)

        def healthy() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"serve exited early:\n{log.read_text()[-3000:]}")
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 60, "/healthz of syndicate serve")
        return server

    yield start
    call = getattr(request.node, "report_call", None)
    if call is not None and call.failed:
        for server in servers:
            print(f"--- last lines of {server.log}:\n" + "\n".join(server.log.read_text().splitlines()[-80:]))
    for server in servers:
        if server.proc.poll() is None:
            os.killpg(server.proc.pid, signal.SIGTERM)
    for server in servers:
        try:
            server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.proc.pid, signal.SIGKILL)
