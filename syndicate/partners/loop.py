"""The event loop a process's partner pushes run on: one asyncio loop (uvloop) in a daemon thread.

Pooled connections of an `httpx.AsyncClient` belong to the loop that opened them, and a Celery
task is plain synchronous code, so every push of a process runs on this one long-lived loop and
keeps its connections alive across tasks. The loop starts on first use in each process: bootstrap
builds it before Celery forks, and a forked child (whose copy of the thread does not exist) starts
its own instead of touching the parent's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


class LoopThread:
    """An asyncio loop running in a daemon thread of this process, started on first use."""

    def __init__(self, name: str = "partner-pushes") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def submit(self, work: Callable[[], Coroutine[Any, Any, T]]) -> concurrent.futures.Future[T]:
        """Start `work()` on the loop and return its future at once (safe from any thread)."""
        loop = self._running_loop()
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            raise RuntimeError("LoopThread.submit called from its own loop (it would wait forever)")
        return asyncio.run_coroutine_threadsafe(work(), loop)

    def run(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run `work()` on the loop and wait for its result (its exception is raised here)."""
        return self.submit(work).result()

    def started_here(self) -> bool:
        """True when the loop runs in this process (so there may be something to close)."""
        return self._loop is not None and self._pid == os.getpid()

    def stop(self) -> None:
        """Stop the loop and join its thread (this process's loop only; a no-op otherwise)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None or self._pid != os.getpid():
                return
            self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                # A forked child: the parent's loop object came along, its thread did not.
                self._loop = uvloop.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name=self.name, daemon=True
                )
                self._thread.start()
                self._pid = os.getpid()
            return self._loop
