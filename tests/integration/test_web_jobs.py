"""JobRegistry runs work in a spawned child: progress and result come back over the pipe, a
child that dies without a result is a failed job, stop_all ends running children."""

from __future__ import annotations

import os
import time
from typing import Any

from syndicate.errors import InvalidDigestInput
from syndicate.web.jobs import CANCELLED, DONE, FAILED, JobControl, JobRegistry


def count_to(control: JobControl, n: int) -> dict[str, Any]:
    for i in range(1, n + 1):
        control.progress({"rows": i})
    return {"counted": n, "pid": os.getpid()}


def refuse(control: JobControl, message: str) -> dict[str, Any]:
    raise InvalidDigestInput(message)


def die(control: JobControl, code: int) -> dict[str, Any]:
    control.progress({"rows": 1})
    os._exit(code)


def sleep_forever(control: JobControl, _: None) -> dict[str, Any]:
    control.progress({"started": True})
    while True:
        time.sleep(1)


def test_progress_and_result_come_from_another_process() -> None:
    cleaned: list[bool] = []
    job = JobRegistry().start("count", count_to, 3, lambda: cleaned.append(True))
    assert job.finished.wait(60)
    assert job.state == DONE and job.result is not None
    assert job.result["counted"] == 3 and job.result["pid"] not in (os.getpid(), None)
    assert job.progress == {"rows": 3} and cleaned == [True]
    assert job.as_json()["finished_at"] is not None


def test_a_named_error_fails_the_job_with_its_message() -> None:
    job = JobRegistry().start("refuse", refuse, "upload.csv: line 1: no email column")
    assert job.finished.wait(60)
    assert (job.state, job.error) == (FAILED, "upload.csv: line 1: no email column")


def test_a_child_that_dies_without_a_result_is_a_failed_job() -> None:
    job = JobRegistry().start("die", die, 7)
    assert job.finished.wait(60)
    assert job.state == FAILED and job.error is not None and "exit code 7" in job.error


def test_stop_all_ends_running_children() -> None:
    registry = JobRegistry()
    job = registry.start("sleep", sleep_forever, None)
    deadline = time.monotonic() + 60
    while not job.progress:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    registry.stop_all(grace=5)
    assert job.finished.is_set() and job.state == CANCELLED
    assert job.pid is not None
    try:
        os.kill(job.pid, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError(f"child {job.pid} still exists")
