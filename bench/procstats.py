"""Memory of benchmark worker processes: RSS of a process tree, sampled in a thread."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path


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
