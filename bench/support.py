"""What the benchmarks share: throwaway PostgreSQL databases, and the memory of worker processes
(RSS of a process tree, sampled in a thread)."""

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
