"""`serve`'s embedded worker: a child process that is started again when it dies.

In embedded mode the worker is the only thing that delivers events, mail and pushes. If it exits
(a crash, the OOM killer, a bug), the site would go on answering while nothing is delivered, and
nobody would notice. The supervisor logs the exit and starts a new worker; the outbox and the
ledger hold the work, so the new worker picks up where the old one stopped.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Sequence

log = logging.getLogger("syndicate.serve")

#: A worker that ran at least this long before exiting is restarted at once.
STEADY_SECONDS = 60.0
#: Longest pause between restarts of a worker that keeps dying at start.
MAX_PAUSE_SECONDS = 30.0


class Supervised:
    """Run `argv` as a child; restart it when it exits until `stop()` is called."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.restarts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)

    @property
    def pid(self) -> int | None:
        """The current child's process id (None before start)."""
        with self._lock:
            return self._child.pid if self._child else None

    def start(self) -> None:
        """Start the child and the thread that watches it."""
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        with self._lock:
            # Same process group: a Ctrl-C in the terminal reaches the worker too.
            self._child = subprocess.Popen(self.argv)

    def _watch(self) -> None:
        pause = 1.0
        while not self._stopping.is_set():
            with self._lock:
                child = self._child
            assert child is not None
            started = time.monotonic()
            code = child.wait()
            if self._stopping.is_set():
                return
            ran = time.monotonic() - started
            pause = 1.0 if ran >= STEADY_SECONDS else min(pause * 2, MAX_PAUSE_SECONDS)
            # Wait first: on Ctrl-C the worker stops a moment before `serve` does; that is no crash.
            if self._stopping.wait(pause):
                return
            log.error("the worker exited with code %s after %.0f s; starting a new one", code, ran)
            self.restarts += 1
            self._spawn()

    def stop(self, timeout: float = 20.0) -> None:
        """Stop restarting, then ask the child to finish (SIGTERM), killing it after `timeout`."""
        self._stopping.set()
        with self._lock:
            child = self._child
        if child is None or child.poll() is not None:
            return
        child.terminate()
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
