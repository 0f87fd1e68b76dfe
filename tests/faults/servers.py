"""Servers a fault test owns: started, stopped and killed by the test, never the shared ones.

- `OwnRedis`: a `redis-server` on its own port, with or without an append-only file.
- `OwnPostgres`: a PostgreSQL cluster of its own (`initdb`/`pg_ctl` as the `postgres` user).
- `CountingSmtp`: an aiosmtpd server that counts what each address received and can be
  switched to refuse (421/451) or be stopped and started on the same port.
- `CountingReceiver`: a partner endpoint that counts deliveries by `webhook-id`, up or down.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.integration.digest_helpers import ehlo_responses


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, *, up: bool = True, timeout: float = 30.0) -> None:
    """Wait until 127.0.0.1:port accepts connections (or, with up=False, refuses them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise TimeoutError(f"127.0.0.1:{port} is still {'down' if up else 'up'} after {timeout}s")


class OwnRedis:
    """A redis-server of the test's own; `appendonly` keeps queued tasks across a restart."""

    def __init__(self, *, appendonly: bool = False) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="syndicate-redis-"))
        self.appendonly = appendonly
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always",
             "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self, *, kill: bool = True) -> None:
        """Stop it (SIGKILL by default: nothing is written on the way out)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.proc.wait(timeout=20)
        self.proc = None
        wait_port(self.port, up=False)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise FileNotFoundError(f"{name} not found under /usr/lib/postgresql/*/bin")
    return found[-1]


class OwnPostgres:
    """A PostgreSQL cluster of the test's own on its own port, run as the `postgres` user.

    PostgreSQL refuses to run as root; its folder lives directly under /tmp so that the
    `postgres` user can reach it.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="syndicate-pg-"))
        os.chmod(self.root, 0o755)
        self.data = self.root / "data"
        shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres([_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                           "--no-sync", "-E", "UTF8"])

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, cmd: list[str]) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True,
                       timeout=120)

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=100")
        self._as_postgres([_pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                           str(self.root / "pg.log"), "-w", "start"])
        wait_port(self.port)

    def stop(self, *, mode: str = "immediate") -> None:
        """Stop the server (`immediate`: as a crash would, every connection cut)."""
        self._as_postgres([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])
        wait_port(self.port, up=False)

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, TimeoutError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class _SmtpHandler:
    def __init__(self, owner: CountingSmtp) -> None:
        self.owner = owner

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        return ehlo_responses(session, hostname, responses, pipelining=self.owner.pipelining)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: Any) -> str:
        if self.owner.refuse_with:
            return self.owner.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.owner.latency_s:
            await asyncio.sleep(self.owner.latency_s)
        with self.owner.lock:
            for rcpt in envelope.rcpt_tos:
                self.owner.received[rcpt.lower()] += 1
        return "250 Message accepted"


class CountingSmtp:
    """An SMTP server on loopback counting messages per recipient; switch it with the attributes.

    `refuse_with` ('451 …' or '421 …') refuses every recipient; `stop()`/`start()` take the
    listening port away and give it back; `latency_s` delays each DATA reply. It offers
    PIPELINING (so senders drive it from their selector loop) unless `pipelining` is False.
    """

    def __init__(self, *, latency_s: float = 0.0, pipelining: bool = True) -> None:
        self.port = free_port()
        self.latency_s = latency_s
        self.pipelining = pipelining
        self.refuse_with: str | None = None
        self.received: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def counts(self) -> collections.Counter[str]:
        """Messages received per (lowercased) address so far."""
        with self.lock:
            return collections.Counter(self.received)


class CountingReceiver:
    """A partner endpoint: counts POSTs per `webhook-id`; `up=False` answers 503 to everything.

    `refused` counts the 503s per webhook-id; `retry_after` (seconds) is sent with each 503.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.up = True
        self.retry_after: int | None = None
        self.received: collections.Counter[str] = collections.Counter()
        self.refused: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                if not owner.up:
                    with owner.lock:
                        owner.refused[self.headers.get("webhook-id", "")] += 1
                    self.send_response(503)
                    if owner.retry_after is not None:
                        self.send_header("retry-after", str(owner.retry_after))
                    self.end_headers()
                    return
                with owner.lock:
                    owner.received[self.headers.get("webhook-id", "")] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def counts(self) -> collections.Counter[str]:
        """Deliveries received per webhook-id so far."""
        with self.lock:
            return collections.Counter(self.received)

    def refusals(self) -> collections.Counter[str]:
        """503 answers per webhook-id so far."""
        with self.lock:
            return collections.Counter(self.refused)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
