"""`syndicate worker` runs under Linux's SCHED_BATCH policy (bootstrap.batch_scheduling), and
commands that are not workers keep the default policy."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.conftest import ROOT, wait_for

pytestmark = pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux scheduling policies")


def test_the_worker_runs_as_batch_and_other_commands_do_not(
    embedded_env: dict[str, str], start_worker: Callable[..., subprocess.Popen[bytes]],
) -> None:
    worker = start_worker(embedded_env)
    wait_for(lambda: b" ready." in worker.log_path.read_bytes(), timeout=60,  # type: ignore[attr-defined]
             what="the worker to start")
    assert os.sched_getscheduler(worker.pid) == os.SCHED_BATCH
    policy = subprocess.run(
        [sys.executable, "-c", "import os, syndicate.bootstrap; print(os.sched_getscheduler(0))"],
        env=embedded_env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert int(policy.stdout) == os.SCHED_OTHER
