"""bench/fanout.py runs end to end in --quick mode and prints every figure (never judged on speed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI, ROOT

EXPECTED = ("subscribers=", "fanout: ", "ceiling: ", "raw limit: ", "naive: ", "fanout/ceiling = ",
            "fanout per worker process = ", "fanout/naive = ",
            "peak worker RSS = ")


def test_quick_benchmark_prints_all_figures(pg_server: str, redis_server: str) -> None:
    if shutil.which("smtp-sink") is None and not Path("/usr/sbin/smtp-sink").exists():
        if IN_CI:
            pytest.fail("smtp-sink is not installed (Debian package postfix)")
        pytest.skip("smtp-sink is not installed")
    done = subprocess.run([sys.executable, "bench/fanout.py", "--quick"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for prefix in EXPECTED:
        assert any(line.startswith(prefix) for line in lines), (prefix, done.stdout)
    assert "fanout: 300 messages" in done.stdout


def test_pool_benchmark_compares_threads_and_asyncio() -> None:
    if shutil.which("smtp-sink") is None and not Path("/usr/sbin/smtp-sink").exists():
        if IN_CI:
            pytest.fail("smtp-sink is not installed (Debian package postfix)")
        pytest.skip("smtp-sink is not installed")
    done = subprocess.run([sys.executable, "bench/smtp_pool.py", "-n", "60", "--connections", "3",
                           "--latency-ms", "0", "--latency-ms", "20"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    for latency in ("0", "20"):
        for mode in ("threads", "asyncio"):
            assert f"latency={latency} ms {mode}: 60 messages over 3 connections" in done.stdout, done.stdout
        assert f"latency={latency} ms asyncio/threads = " in done.stdout


def test_claim_benchmark_prints_its_figures(pg_server: str, redis_server: str) -> None:
    done = subprocess.run([sys.executable, "bench/claim.py", "--quick"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env={**os.environ, "TEST_PG_ADMIN": pg_server})
    assert done.returncode == 0, done.stdout + done.stderr
    for prefix in ("subscribers=1000 ", "claim: 1000 rows in ", "bare UPDATE (baseline): 1000 rows in ",
                   "claim/bare UPDATE = "):
        assert any(line.startswith(prefix) for line in done.stdout.splitlines()), (prefix, done.stdout)


def test_send_loop_benchmark_compares_threads_and_one_loop(pg_server: str) -> None:
    if shutil.which("smtp-sink") is None and not Path("/usr/sbin/smtp-sink").exists():
        if IN_CI:
            pytest.fail("smtp-sink is not installed (Debian package postfix)")
        pytest.skip("smtp-sink is not installed")
    done = subprocess.run([sys.executable, "bench/send_loop.py", "-n", "300", "--rounds", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env={**os.environ, "TEST_PG_ADMIN": pg_server})
    assert done.returncode == 0, done.stdout + done.stderr
    for prefix in ("threads: 300 messages over 10 connections", "loop: 300 messages over 10 connections",
                   "raw limit: ", "loop/threads = "):
        assert any(line.startswith(prefix) for line in done.stdout.splitlines()), (prefix, done.stdout)
