"""Background jobs of the serving process: heavy admin requests (a subscriber CSV import) run
in a child process, and the admin polls `GET /api/jobs/{id}` for progress.

Invariants:
- the serving process never does a job's work: the child is another interpreter, started with
  `spawn` (the server has threads, so no `fork`), so neither the event loop nor the GIL is held by
  it and `/healthz` answers at its idle speed meanwhile;
- the child reports over a one-way pipe: progress after each unit of work, then exactly one final
  message (done, failed or cancelled). A child that dies without one (killed, out of memory) is
  reported failed with its exit code, so a job never stays `running` after its process is gone;
- no job outlives the server: `stop_all` (the app's shutdown) terminates every child, and a child
  whose server died without stopping it (SIGKILL) finds its pipe broken at its next report and
  stops there. A child killed mid-unit loses only that unit's open transaction;
- jobs live in the serving process only: a restart forgets them (their committed rows remain),
  and only the newest MAX_JOBS finished jobs are kept.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import secrets
import signal
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from syndicate.errors import JobCancelled, SyndicateError

log = logging.getLogger(__name__)
MAX_JOBS = 100
#: Seconds a terminated child gets to exit before it is killed.
STOP_GRACE = 5.0
#: How much lower than the server a job's child runs (`nice`): on a busy machine the scheduler
#: serves requests first and gives the import what is left.
JOB_NICENESS = 10
RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"
P = TypeVar("P")
#: The work of a job, run in the child: a module-level function (it is pickled by name) taking the
#: child's control and the payload, returning the JSON-able result.
Work = Callable[["JobControl", P], dict[str, Any]]


@dataclass
class Job:
    """One background job as the server sees it; `progress` and `result` are JSON-able dicts."""

    id: str
    kind: str
    state: str = RUNNING
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None
    pid: int | None = None
    stop_requested: bool = False
    finished: threading.Event = field(default_factory=threading.Event)

    def as_json(self) -> dict[str, Any]:
        """The job as the API shows it."""
        return {"id": self.id, "kind": self.kind, "state": self.state,
                "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "progress": self.progress, "result": self.result, "error": self.error}


class JobControl:
    """The child's end of a job: publish progress; learn there that the server is gone."""

    def __init__(self, conn: Connection, parent_pid: int) -> None:
        self._conn = conn
        self._parent_pid = parent_pid

    def progress(self, data: dict[str, Any]) -> None:
        """Publish `data` as the job's progress; raise JobCancelled when the server is gone."""
        if os.getppid() != self._parent_pid:
            raise JobCancelled("job stopped: the server that started it is gone")
        try:
            self._conn.send(("progress", data))
        except OSError:  # BrokenPipeError: nobody reads the other end any more
            raise JobCancelled("job stopped: the server that started it is gone") from None


def _child_main(conn: Connection, parent_pid: int, work: Work[P], payload: P) -> None:
    """The child's entry point: run `work`, send its one final message, exit."""
    # A Ctrl-C in the terminal reaches the whole foreground group; the server stops its
    # children itself, so the child must not die of it first with a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(JOB_NICENESS)
    outcome: tuple[str, Any]
    try:
        outcome = (DONE, work(JobControl(conn, parent_pid), payload))
    except JobCancelled as exc:
        outcome = (CANCELLED, str(exc))
    except SyndicateError as exc:
        outcome = (FAILED, str(exc))
    except Exception as exc:  # a bug: say so in the job and in the log
        log.exception("job failed")
        outcome = (FAILED, f"internal error: {type(exc).__name__}")
    try:
        conn.send(outcome)
    except OSError:
        pass  # the server is gone: nobody to tell
    finally:
        conn.close()


class JobRegistry:
    """Starts jobs in child processes and remembers them by id."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._procs: dict[str, BaseProcess] = {}
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("spawn")

    def start(self, kind: str, work: Work[P], payload: P,
              cleanup: Callable[[], None] | None = None) -> Job:
        """Run `work(control, payload)` in a new child process; `cleanup()` runs here once it has exited.

        Blocks for the few milliseconds a process start takes: call it off the event loop.
        """
        job = Job(id=secrets.token_hex(8), kind=kind)
        receiver, sender = self._context.Pipe(duplex=False)
        proc = self._context.Process(target=_child_main, args=(sender, os.getpid(), work, payload),
                                     name=f"job-{kind}-{job.id}", daemon=True)
        try:
            proc.start()
        except BaseException:
            receiver.close()
            raise
        finally:
            sender.close()  # the child holds its own copy; ours must go, or EOF never comes
        job.pid = proc.pid
        with self._lock:
            self._jobs[job.id] = job
            self._procs[job.id] = proc
            finished = [k for k, j in self._jobs.items() if j.state != RUNNING]
            for key in finished[: max(0, len(self._jobs) - MAX_JOBS)]:
                del self._jobs[key]
        threading.Thread(target=self._watch, args=(job, proc, receiver, cleanup),
                         name=f"job-watch-{job.id}", daemon=True).start()
        return job

    def _watch(self, job: Job, proc: BaseProcess, receiver: Connection,
               cleanup: Callable[[], None] | None) -> None:
        """Follow the child's messages until its pipe closes; then settle the job."""
        final: tuple[str, Any] | None = None
        try:
            while True:
                try:
                    kind, data = receiver.recv()
                except (EOFError, OSError):
                    break
                if kind == "progress":
                    job.progress = data
                else:
                    final = (kind, data)
            proc.join()
        finally:
            receiver.close()
            if final is not None and final[0] == DONE:
                job.result, job.state = final[1], DONE
            elif final is not None:
                job.state, job.error = final[0], final[1]
            elif job.stop_requested:
                job.state, job.error = CANCELLED, "stopped: the server is shutting down"
            else:
                job.state = FAILED
                job.error = f"the job's process ended without a result (exit code {proc.exitcode})"
            with self._lock:
                self._procs.pop(job.id, None)
            if cleanup is not None:
                try:
                    cleanup()
                except Exception:
                    log.exception("cleaning up after job %s (%s) failed", job.id, job.kind)
            job.finished_at = datetime.now(UTC)
            job.finished.set()

    def get(self, job_id: str) -> Job | None:
        """The job with this id, or None."""
        with self._lock:
            return self._jobs.get(job_id)

    def stop_all(self, grace: float = STOP_GRACE) -> None:
        """Stop every running child (SIGTERM, SIGKILL after `grace` s) and wait for it (server shutdown).

        A stopped import keeps the chunks it committed (the one in progress is rolled back); its
        job would say `cancelled`, but the registry ends with the server anyway.
        """
        with self._lock:
            running = [(self._jobs[k], p) for k, p in self._procs.items() if k in self._jobs]
        for job, proc in running:
            job.stop_requested = True
            if proc.is_alive():
                log.warning("stopping job %s (%s): the server is shutting down", job.id, job.kind)
                proc.terminate()
        for job, proc in running:
            proc.join(grace)
            if proc.is_alive():
                proc.kill()
                proc.join()
            job.finished.wait(grace)
