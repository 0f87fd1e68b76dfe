"""What the benchmarks share: throwaway PostgreSQL databases, the memory of worker processes
(RSS of a process tree, sampled in a thread), and the CPU time of the processes a run involves."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from pathlib import Path

PG_ADMIN = os.environ.get("TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")


def create_database(prefix: str) -> str:
    """A new, empty database named `PREFIX_<random>` on the server of PG_ADMIN; returns its name."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def database_url(name: str, *, driver: str = "+psycopg") -> str:
    """The URL of database `name` on the server of PG_ADMIN: for SQLAlchemy with the psycopg
    driver, or libpq's own form (for psycopg.connect) with `driver=""`."""
    server = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", f"postgresql{driver}://", 1)
    return f"{server}/{name}"


def drop_database(name: str) -> None:
    """Drop a database `create_database` made, closing its connections."""
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children") if Path(f"/proc/{p}").exists() else []:
            with contextlib.suppress(OSError):
                todo.extend(int(x) for x in task.read_text().split())
    return pids


class RssSampler(threading.Thread):
    """Peak RSS of the largest single process and of the whole tree of each worker."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak_process_kb = 0
        self.peak_total_kb = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            sizes = [rss_kb(p) for root in self.pids for p in process_tree(root)]
            if sizes:
                self.peak_process_kb = max(self.peak_process_kb, max(sizes))
                self.peak_total_kb = max(self.peak_total_kb, sum(sizes))
            time.sleep(0.2)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU seconds used between `start` and `stop` by groups of processes: the trees of the
    worker pids, every process named `postgres` (the server is shared: other clients' work
    counts too), and the mail server's pid. A process born in between counts from its start;
    one that ended before `stop` is not counted. Several start/stop intervals add up."""

    def __init__(self, workers: list[int], mail_server: int) -> None:
        self.workers = workers
        self.mail_server = mail_server
        self._before: dict[str, dict[int, float]] = {}
        self.used: dict[str, float] = {}
        self.wall = 0.0
        self._started = 0.0

    def _groups(self) -> dict[str, list[int]]:
        return {"worker processes": [p for root in self.workers for p in process_tree(root)],
                "PostgreSQL": _named("postgres"), "mail server": process_tree(self.mail_server)}

    def _snapshot(self) -> dict[str, dict[int, float]]:
        return {group: {p: _cpu_seconds(p) for p in pids} for group, pids in self._groups().items()}

    def start(self) -> None:
        self._before = self._snapshot()
        self._started = time.perf_counter()

    def stop(self) -> None:
        self.wall += time.perf_counter() - self._started
        after = self._snapshot()
        for group, times in after.items():
            used = sum(t - self._before[group].get(p, 0.0) for p, t in times.items())
            self.used[group] = self.used.get(group, 0.0) + used

    def report(self, messages: int) -> str:
        """CPU per message of each group, how busy the machine's cores were with them, and the
        rate the cores could carry if they did nothing else and never waited (the groups share
        them: with PostgreSQL and the mail server on the same machine that is the CPU bound)."""
        parts = ", ".join(f"{group} {used / messages * 1e6:.0f} us" for group, used in self.used.items())
        cores = os.cpu_count() or 1
        busy = sum(self.used.values()) / (self.wall * cores)
        bound = cores * messages / sum(self.used.values()) if sum(self.used.values()) else 0.0
        return (f"CPU per message: {parts} ({busy:.0%} of {cores} cores; "
                f"their CPU bound: {bound:.0f} msg/s)")
