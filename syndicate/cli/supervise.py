"""`serve`'s embedded worker: a child process that is started again when it dies.

In embedded mode the worker is the only thing that delivers events, mail and pushes. If it exits
(a crash, the OOM killer, a bug), the site would go on answering while nothing is delivered, and
nobody would notice. The supervisor logs the exit and starts a new worker; the outbox and the
ledger hold the work, so the new worker picks up where the old one stopped.

Each worker runs in a process group of its own, because Celery's embedded scheduler is a child
process of the worker: when a worker dies, whatever is left of its group is killed before the
next one starts, so two schedulers never run at once. `serve` stops the group on exit.
"""

from __future__ import annotations

import logging
import os
import signal
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
            if self._stopping.is_set():  # checked under the lock `stop()` takes: no late spawn
                return
            # A new session (and process group, whose id is the child's pid); a Ctrl-C in the
            # terminal reaches `serve`, which then stops the group.
            self._child = subprocess.Popen(self.argv, start_new_session=True)

    def _watch(self) -> None:
        pause = 1.0
        while not self._stopping.is_set():
            with self._lock:
                child = self._child
            assert child is not None
            started = time.monotonic()
            code = child.wait()
            ran = time.monotonic() - started
            if self._stopping.is_set():
                return
            log.error("the worker exited with code %s after %.0f s; starting a new one", code, ran)
            _end_group(child.pid, grace=5.0)  # its orphaned scheduler would otherwise run twice
            pause = 1.0 if ran >= STEADY_SECONDS else min(pause * 2, MAX_PAUSE_SECONDS)
            if self._stopping.wait(pause):  # `serve` is stopping: no new worker
                return
            self.restarts += 1
            self._spawn()

    def stop(self, timeout: float = 20.0) -> None:
        """Stop restarting, ask the worker's group to finish (SIGTERM), kill what is left after `timeout`."""
        with self._lock:
            self._stopping.set()
            child = self._child
        if child is None:
            return
        _signal_group(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(child.pid, signal.SIGKILL)
            child.wait()
        _end_group(child.pid, grace=5.0)


def _signal_group(group: int, signum: int) -> bool:
    """Send `signum` to every process of the group; False when none is left."""
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        return False
    return True


def _end_group(group: int, *, grace: float) -> None:
    """Ask what is left of a process group to exit (SIGTERM); SIGKILL it after `grace` seconds."""
    if not _signal_group(group, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while _signal_group(group, 0):
        if time.monotonic() >= deadline:
            _signal_group(group, signal.SIGKILL)
            return
        time.sleep(0.1)


def follow_parent(poll_s: float = 1.0) -> None:
    """In the worker: stop it (SIGTERM, a warm shutdown) once the process that started it is gone.

    `serve` stops its worker itself when it exits normally; this covers `serve` being killed
    outright (SIGKILL, a crash), which would otherwise leave the worker and its scheduler running.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        log.warning("the process that started this worker (pid %s) is gone; stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
