"""Background jobs of the serving process: heavy admin requests (a subscriber CSV import) run
in a thread of their own, and the admin polls `GET /api/jobs/{id}` for progress.

Invariants:
- the event loop never runs a job: `/healthz` and every other request are answered meanwhile;
- a job thread is a daemon and checks its stop flag between chunks, so SIGTERM ends the server
  within one chunk (what was committed stays; the job is reported `cancelled` until exit);
- jobs live in this process only: a restart forgets them (their committed rows remain), and
  only the newest MAX_JOBS finished jobs are kept.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from syndicate.errors import JobCancelled, SyndicateError

log = logging.getLogger(__name__)
MAX_JOBS = 100
RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"


@dataclass
class Job:
    """One background job; `progress` and `result` are plain JSON-able dicts."""

    id: str
    kind: str
    state: str = RUNNING
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)

    def check_stop(self) -> None:
        """Raise JobCancelled when the server is stopping; call between units of work."""
        if self.stop.is_set():
            raise JobCancelled(f"job {self.id} stopped: the server is shutting down")

    def as_json(self) -> dict[str, Any]:
        """The job as the API shows it."""
        return {"id": self.id, "kind": self.kind, "state": self.state,
                "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "progress": self.progress, "result": self.result, "error": self.error}


class JobRegistry:
    """Starts jobs in daemon threads and remembers them by id."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, kind: str, work: Callable[[Job], dict[str, Any]]) -> Job:
        """Run `work(job)` in a new daemon thread; its return value becomes `job.result`."""
        job = Job(id=secrets.token_hex(8), kind=kind)
        with self._lock:
            self._jobs[job.id] = job
            finished = [k for k, j in self._jobs.items() if j.state != RUNNING]
            for key in finished[: max(0, len(self._jobs) - MAX_JOBS)]:
                del self._jobs[key]
        threading.Thread(target=self._run, args=(job, work), name=f"job-{kind}-{job.id}",
                         daemon=True).start()
        return job

    def _run(self, job: Job, work: Callable[[Job], dict[str, Any]]) -> None:
        try:
            job.result = work(job)
            job.state = DONE
        except JobCancelled as exc:
            job.state, job.error = CANCELLED, str(exc)
        except SyndicateError as exc:
            job.state, job.error = FAILED, str(exc)
        except Exception as exc:  # a bug: keep the server up, say so in the job and the log
            log.exception("job %s (%s) failed", job.id, job.kind)
            job.state, job.error = FAILED, f"internal error: {type(exc).__name__}"
        finally:
            job.finished_at = datetime.now(UTC)
            job.finished.set()

    def get(self, job_id: str) -> Job | None:
        """The job with this id, or None."""
        with self._lock:
            return self._jobs.get(job_id)

    def stop_all(self) -> None:
        """Ask every running job to stop at its next check (server shutdown)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop.set()
