"""Shared fixtures: real PostgreSQL and Redis servers, an embedded container, CLI runners.

When CI=true a missing server is a failure, never a skip.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is not reachable and CI=true: a missing server is a failure")
    pytest.skip(f"{what} is not reachable")


def port_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> object:
    """Poll until predicate() is truthy; fails the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The admin URL of the real PostgreSQL server."""
    if not port_open("127.0.0.1", 5432):
        _unavailable("PostgreSQL at 127.0.0.1:5432")
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    name = f"syndicate_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_server() -> str:
    """The URL of the real Redis server."""
    if not port_open(REDIS_HOST, REDIS_PORT):
        _unavailable(f"Redis at {REDIS_HOST}:{REDIS_PORT}")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@pytest.fixture
def queue_name() -> str:
    """A Celery queue name of this test's own, so parallel runs never steal each other's tasks."""
    return f"syndicate-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    """An empty var/ directory for one test."""
    path = tmp_path / "var"
    path.mkdir()
    return path


@pytest.fixture
def embedded_env(var_dir: Path) -> dict[str, str]:
    """Environment for a CLI subprocess in embedded mode, isolated in a temporary var/."""
    env = {k: v for k, v in os.environ.items() if k not in _SETTINGS_VARS}
    env.update({"VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1"})
    return env


_SETTINGS_VARS = {
    "DATABASE_URL", "REDIS_URL", "SMTP_URL", "BASE_URL", "SECRET_KEY", "ADMIN_TOKEN", "MAIL_FROM",
    "PUBLIC_DIR", "WEBSUB_HUBS", "PARTNER_ALLOW_PRIVATE", "VAR_DIR", "CELERY_QUEUE",
}


@pytest.fixture(autouse=True)
def _clean_settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Tests build Settings explicitly; a developer's shell must not leak into them.
    for name in _SETTINGS_VARS:
        monkeypatch.delenv(name, raising=False)
    # Where `serve` remembers its var/ (syndicate/cli/vardir.py): each test has its own.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


@pytest.fixture
def make_container(var_dir: Path) -> Iterator[Callable[..., object]]:
    """Build a migrated container from Settings overrides; embedded SQLite by default."""
    from syndicate.bootstrap import bootstrap
    from syndicate.settings import load_settings

    built = []

    def build(**overrides: object) -> object:
        overrides.setdefault("var_dir", var_dir)
        overrides.setdefault("secret_key", "test-secret-key-0123456789")
        overrides.setdefault("admin_token", "test-admin-token-0123456789")
        container = bootstrap(load_settings(**overrides), migrate=True)
        built.append(container)
        return container

    yield build
    for c in built:
        c.close()  # type: ignore[attr-defined]


@pytest.fixture
def container(make_container: Callable[..., object]) -> object:
    """An embedded (SQLite, file broker) container in a temporary var/."""
    return make_container()


def run_cli(
    args: list[str], env: dict[str, str], *, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `syndicate ARGS` as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "syndicate.cli.main", *args],
        env=env,
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `syndicate worker ARGS` subprocesses with an env; all are stopped after the test.

    The worker's output goes to tmp_path/worker-N.log (read it with `.log_path`).
    """
    procs: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
        log_path = tmp_path / f"worker-{len(procs)}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "syndicate.cli.main", "worker", *args],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        proc.log_path = log_path  # type: ignore[attr-defined]
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def production_env(base: dict[str, str], *, database_url: str, redis_url: str, queue: str) -> dict[str, str]:
    """Environment for CLI/worker subprocesses on PostgreSQL + Redis with test secrets."""
    return base | {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_QUEUE": queue,
        "SECRET_KEY": "test-secret-key-0123456789",
        "ADMIN_TOKEN": "test-admin-token-0123456789",
    }
