"""One digest send under one fault, end to end: the servers, the worker, the injection, the counts.

`MailScenario` owns a PostgreSQL cluster, a redis-server and a counting SMTP server (production
mode), or a `syndicate serve` on SQLite and the file broker (embedded mode). It seeds N confirmed
subscribers, starts real `syndicate` processes, sends one edition, calls the fault when the SMTP
server has seen `at` of the addresses, and waits (bounded) until every address has a copy and the
ledger holds no row still queued or sending. `Outcome` holds what the servers and the ledger say.

Used by tests/faults (1,000 subscribers, asserted) and bench/faults.py (5,000, printed).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.faults.servers import CountingSmtp, OwnPostgres, OwnRedis, free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "csto-anniversary.txt"
SECRET = "fault-secret-key-0123456789"
LIST = "faults"
SETTINGS_VARS = {
    "DATABASE_URL", "REDIS_URL", "SMTP_URL", "BASE_URL", "SECRET_KEY", "ADMIN_TOKEN", "MAIL_FROM",
    "PUBLIC_DIR", "WEBSUB_HUBS", "PARTNER_ALLOW_PRIVATE", "VAR_DIR", "CELERY_QUEUE",
}
#: SMTP connections per sending process: each may have one message answered but not yet
#: recorded when its process is killed, so a kill may cost that many extra copies per process.
CONNECTIONS = 2
#: Every scenario: no scheduled editions, loopback partners allowed.
BASE = {
    "DIGEST_HOUR": "24", "BASE_URL": "https://news.example.com",
    "MAIL_FROM": "Newsroom <news@news.example.com>", "PARTNER_ALLOW_PRIVATE": "true",
    "SMTP_CONNECTIONS": str(CONNECTIONS),
}
#: Short periods so a fault costs seconds of test time; the lease is the one under test.
FAST = {
    "MAIL_BATCH_SIZE": "100", "MAIL_SWEEP_SECONDS": "2", "MAIL_RETRY_SECONDS": "1",
    "MAIL_LEASE_SECONDS": "10", "OUTBOX_SWEEP_SECONDS": "1", "PARTNER_SWEEP_SECONDS": "1",
}


def log(message: str) -> None:
    """A line in the test log (pytest shows it with -s or on failure)."""
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", flush=True)


def address(i: int) -> str:
    """The i-th seeded subscriber's address."""
    return f"reader{i}@faults.example.com"


@dataclass
class Outcome:
    """What one scenario produced: copies per address, the ledger's counts, and timings."""

    n: int
    copies: collections.Counter[str]
    ledger: dict[str, int]
    killed_senders: int
    seconds_to_all: float
    seconds_after_fault: float
    seconds_after_repair: float
    complete: bool

    @property
    def missing(self) -> int:
        """Seeded addresses that received nothing."""
        return sum(1 for i in range(self.n) if self.copies[address(i)] == 0)

    @property
    def extra_copies(self) -> int:
        """Copies received beyond one per address."""
        return sum(c - 1 for c in self.copies.values() if c > 1)

    @property
    def most_copies(self) -> int:
        """The most copies any one address received."""
        return max(self.copies.values(), default=0)

    @property
    def doubled(self) -> int:
        """Addresses that received two copies or more."""
        return sum(1 for c in self.copies.values() if c > 1)

    def row(self, fault: str) -> str:
        """One line of the issue's table: fault | copies received | seconds until all had one."""
        copies = (f"{self.doubled} addresses got 2+ copies, {self.missing} got none "
                  f"(extra copies {self.extra_copies}, at most {self.most_copies} to one address, "
                  f"killed senders {self.killed_senders})")
        secs = (f"{self.seconds_to_all:.0f} s ({self.seconds_after_repair:.0f} s after the fault "
                f"was repaired)")
        return f"| {fault} | {copies} | {secs if self.complete else 'incomplete: ' + secs} |"


@dataclass
class MailScenario:
    """N subscribers, real processes, one edition; see the module docstring."""

    workdir: Path
    n: int = 1000
    embedded: bool = False
    appendonly: bool = False
    latency_s: float = 0.005
    concurrency: int = 2
    publish: bool = True
    fast: bool = True  # False: the product's default periods (bench/faults.py --defaults)
    extra_env: dict[str, str] = field(default_factory=dict)
    pg: OwnPostgres | None = None
    redis: OwnRedis | None = None
    smtp: CountingSmtp = field(init=False)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    edition_id: int = 0

    # -- servers and processes ------------------------------------------------------------------

    def start(self) -> None:
        """Start the servers, migrate, seed the subscribers and publish the sample article."""
        self.smtp = CountingSmtp(latency_s=self.latency_s)
        self.smtp.start()
        base = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
        own = {"VAR_DIR": str(self.workdir / "var"), "SMTP_URL": self.smtp.url, "PYTHONUNBUFFERED": "1"}
        env = base | BASE | (FAST if self.fast else {}) | own | self.extra_env
        if not self.embedded:
            self.pg = OwnPostgres()
            self.pg.start()
            self.redis = OwnRedis(appendonly=self.appendonly)
            self.redis.start()
            env |= {"DATABASE_URL": self.pg.url, "REDIS_URL": self.redis.url,
                    "CELERY_QUEUE": "faults", "SECRET_KEY": SECRET, "ADMIN_TOKEN": SECRET}
        self.env = env
        t = time.monotonic()
        self._seed()
        log(f"seeded {self.n} confirmed subscribers in {time.monotonic() - t:.1f} s")

    def _seed(self) -> None:
        from sqlalchemy import insert

        from syndicate.bootstrap import bootstrap
        from syndicate.digests import subscribers as subs
        from syndicate.settings import load_settings
        from syndicate.storage.digest_models import SubscriberRow, SubscriptionRow

        settings = load_settings(
            database_url=self.env.get("DATABASE_URL", ""), redis_url=self.env.get("REDIS_URL"),
            var_dir=Path(self.env["VAR_DIR"]), secret_key=SECRET, admin_token=SECRET,
            celery_queue=self.env.get("CELERY_QUEUE", "syndicate"), smtp_url=self.smtp.url)
        container = bootstrap(settings, migrate=True)
        try:
            if not self.n:
                return
            now = datetime.now(UTC)
            lst = subs.create_list(container.digest_uow, slug=LIST, name="Fault digest",
                                   frequency="daily", language=None, categories=[],
                                   custom_frequency=False, now=now)
            with container.session_factory() as session:
                ids = session.execute(insert(SubscriberRow).returning(SubscriberRow.id), [
                    {"email": address(i), "name": "", "language": "en", "status": "active",
                     "created_at": now} for i in range(self.n)]).scalars().all()
                session.execute(insert(SubscriptionRow), [
                    {"subscriber_id": sid, "list_id": lst.id, "status": "active", "created_at": now}
                    for sid in ids])
                session.commit()
        finally:
            container.close()
        if self.publish:
            self.publish_sample()

    def publish_sample(self) -> None:
        """`syndicate articles import` the sample article (published now)."""
        done = self.cli("articles", "import", str(SAMPLE))
        assert done.returncode == 0, done.stderr

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `syndicate ARGS` in this scenario's environment."""
        return subprocess.run([sys.executable, "-m", "syndicate.cli.main", *args], env=self.env,
                              cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        """Start `syndicate ARGS` in a process group of its own; output in workdir/NAME-K.log."""
        path = self.workdir / f"{args[0]}-{len(self.procs)}.log"
        proc = subprocess.Popen([sys.executable, "-m", "syndicate.cli.main", *args], env=self.env,
                                cwd=ROOT, stdout=path.open("wb"), stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        proc.log_path = path  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def start_worker(self) -> subprocess.Popen[bytes]:
        """A `syndicate worker --with-beat`, returned once Celery says it is ready."""
        proc = self.spawn("worker", "--with-beat", "--concurrency", str(self.concurrency))
        self._wait_log(proc, b" ready.", "the worker")
        return proc

    def start_serve(self) -> subprocess.Popen[bytes]:
        """`syndicate serve` (embedded: its own worker with the scheduler), once its worker is ready."""
        port = free_port()
        proc = self.spawn("serve", "--port", str(port))
        wait_port(port, timeout=60)
        self._wait_log(proc, b" ready.", "serve's worker")
        return proc

    @staticmethod
    def _wait_log(proc: subprocess.Popen[bytes], marker: bytes, what: str, timeout: float = 60) -> None:
        path: Path = proc.log_path  # type: ignore[attr-defined]
        deadline = time.monotonic() + timeout
        while marker not in path.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start; its log {path}:\n{path.read_text()[-3000:]}")
            time.sleep(0.1)

    def kill_group(self, proc: subprocess.Popen[bytes]) -> int:
        """`kill -9` a worker and every process of its group; returns how many of them could send.

        The senders are the worker's pool processes (its other child is the embedded scheduler) or,
        with the solo pool, the worker itself.
        """
        senders = 1 if self.embedded else self.concurrency
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
        return senders

    def close(self) -> None:
        """Stop every process and server this scenario started."""
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.smtp.stop()
        if self.redis is not None:
            self.redis.close()
        if self.pg is not None:
            self.pg.close()

    # -- the send -------------------------------------------------------------------------------

    def send(self) -> None:
        """`syndicate digest send --list faults` (no --wait): the edition is queued for the workers."""
        done = self.cli("digest", "send", "--list", LIST)
        assert done.returncode == 0 and done.stdout.startswith("edition="), done.stderr
        self.edition_id = int(done.stdout.split()[0].removeprefix("edition="))

    def received(self) -> int:
        """Distinct seeded addresses that have a copy so far."""
        return len(self.smtp.counts())

    def ledger(self) -> dict[str, int] | None:
        """The edition's delivery counts by state (`editions show ID --json`); None when unreadable."""
        shown = self.cli("editions", "show", str(self.edition_id), "--json", timeout=60)
        if shown.returncode != 0:
            return None
        return {k: int(v) for k, v in json.loads(shown.stdout)["deliveries"].items()}

    def run(self, fault: Callable[[MailScenario], int] | None, *, at: float = 0.3,
            timeout: float = 180) -> Outcome:
        """Send, call `fault` (returns killed senders) at `at` of the addresses, wait for the end."""
        start = time.monotonic()
        self.send()
        killed = 0
        fault_at = repaired = start
        if fault is not None:
            _poll(lambda: self.received() >= at * self.n, timeout, "the send to reach the fault point")
            fault_at = time.monotonic()
            log(f"fault at {self.received()}/{self.n} addresses, {fault_at - start:.1f} s into the send")
            killed = fault(self)
            repaired = time.monotonic()
            log(f"fault repaired after {repaired - fault_at:.1f} s")
        deadline = start + timeout
        all_had_one = _poll(lambda: self.received() >= self.n, deadline - time.monotonic(),
                            None) and time.monotonic()
        counts = self._final_ledger(deadline)
        copies = self.smtp.counts()
        done = bool(all_had_one) and counts is not None
        end = all_had_one or time.monotonic()
        outcome = Outcome(self.n, copies, counts or {}, killed, end - start, end - fault_at,
                          end - repaired, done)
        log(f"every address had a copy {outcome.seconds_to_all:.1f} s after the send started, "
            f"{outcome.seconds_after_repair:.1f} s after the fault was repaired; extra copies "
            f"{outcome.extra_copies}, none {outcome.missing}; ledger {outcome.ledger}")
        return outcome

    def _final_ledger(self, deadline: float) -> dict[str, int] | None:
        """The ledger's counts once no row is queued or sending (None if that never happened)."""
        while time.monotonic() < deadline:
            counts = self.ledger()
            if counts is not None and not counts.get("queued") and not counts.get("sending"):
                time.sleep(1.0)  # a copy in flight reaches the server before its row is final
                return counts
            time.sleep(1.0)
        return None


def children(pid: int) -> list[int]:
    """Direct child process ids of `pid` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found.extend(int(x) for x in task.read_text().split())
    return found


def _poll(predicate: Callable[[], object], timeout: float, what: str | None) -> bool:
    deadline = time.monotonic() + max(timeout, 0)
    while not predicate():
        if time.monotonic() > deadline:
            if what is not None:
                raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
            return False
        time.sleep(0.05)
    return True


# -- the faults: each returns how many sending processes it killed --------------------------------

def kill_worker(s: MailScenario) -> int:
    """`kill -9` the sending worker (its whole group) and start a new one."""
    killed = 0
    for proc in [p for p in s.procs if p.poll() is None and p.args[3] == "worker"]:  # type: ignore[index]
        killed += s.kill_group(proc)
    s.start_worker()
    return killed


def postgres_down(seconds: float, mode: str = "immediate") -> Callable[[MailScenario], int]:
    """PostgreSQL stopped for `seconds`, then started.

    `immediate` is a crash (every connection cut, no shutdown checkpoint: commits made with
    `synchronous_commit = off` in the last few hundred ms are lost); `fast` is an operator's stop.
    """
    def fault(s: MailScenario) -> int:
        assert s.pg is not None
        s.pg.stop(mode=mode)
        time.sleep(seconds)
        s.pg.start()
        return 0
    return fault


def redis_down(seconds: float) -> Callable[[MailScenario], int]:
    """redis-server killed for `seconds`, then started (its queue survives only with AOF)."""
    def fault(s: MailScenario) -> int:
        assert s.redis is not None
        s.redis.stop(kill=True)
        time.sleep(seconds)
        s.redis.start()
        return 0
    return fault


def smtp_down(seconds: float) -> Callable[[MailScenario], int]:
    """The SMTP server's port closed for `seconds`, then open again."""
    def fault(s: MailScenario) -> int:
        s.smtp.stop()
        time.sleep(seconds)
        s.smtp.start()
        return 0
    return fault


def kill_serve_worker(s: MailScenario) -> int:
    """`kill -9` of `serve`'s embedded worker; serve starts a new one itself."""
    (serve,) = [p for p in s.procs if p.poll() is None]
    (worker,) = children(serve.pid)
    os.kill(worker, signal.SIGKILL)
    return 1


def scenario_dir(prefix: str) -> Path:
    """A fresh working folder for one scenario."""
    return Path(tempfile.mkdtemp(prefix=f"syndicate-{prefix}-"))


def describe(outcome: Outcome) -> dict[str, Any]:
    """The outcome as plain data, for a failing assertion's message."""
    return {"missing": outcome.missing, "extra": outcome.extra_copies, "doubled": outcome.doubled,
            "killed_senders": outcome.killed_senders, "ledger": outcome.ledger,
            "complete": outcome.complete, "seconds_to_all": round(outcome.seconds_to_all, 1)}
