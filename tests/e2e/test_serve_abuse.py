"""A real `syndicate serve --no-worker` under a large subscriber import and spoofed proxies:
/healthz keeps answering, SIGTERM still stops it, X-Forwarded-For from loopback is not trusted."""

from __future__ import annotations

import signal
from collections.abc import Callable

import httpx

from tests.conftest import run_cli
from tests.e2e.conftest import Server

TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROWS = 200_000  # long enough to be still running when checked, whatever the machine


def test_healthz_answers_during_a_large_import_and_sigterm_stops_the_server(
    embedded_env: dict[str, str], serve: Callable[..., Server]
) -> None:
    env = embedded_env | {"ADMIN_TOKEN": TOKEN, "SECRET_KEY": "test-secret-key-0123456789",
                          "SUBSCRIBE_CLIENT_LIMIT_PER_HOUR": "2"}
    assert run_cli(["lists", "create", "news", "--name", "News", "--frequency", "daily"], env).returncode == 0
    server = serve(env, "--no-worker")
    base = server.url
    # Rotating X-Forwarded-For from 127.0.0.1 does not make a new client (FORWARDED_ALLOW_IPS empty).
    statuses = [httpx.post(f"{base}/subscribe", json={"email": f"x{n}@example.test", "lists": ["news"]},
                           headers={"X-Forwarded-For": f"198.51.100.{n}"}, timeout=10).status_code
                for n in range(3)]
    assert statuses == [202, 202, 429]

    body = "email,name\n" + "".join(f"user{n}@example.test,User {n}\n" for n in range(ROWS))
    started = httpx.post(f"{base}/api/subscribers/import?list=news&confirmed=true&wait=0",
                         content=body, headers=AUTH, timeout=30)
    assert started.status_code == 202, started.text
    job_url = base + started.headers["location"]
    health = httpx.get(f"{base}/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["database"] == "ok"
    job = httpx.get(job_url, headers=AUTH, timeout=10).json()
    # /healthz was answered while the import was still running.
    assert job["state"] == "running", job

    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=60) is not None
