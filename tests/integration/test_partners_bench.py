"""The partner benchmark runs end to end and prints every figure (figures are never asserted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.conftest import ROOT


def test_bench_quick_prints_every_figure(pg_server: str, redis_server: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "partners.py"), "--quick", "--latency-ms", "20",
         "--redis-url", redis_server],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=os.environ | {"TEST_PG_ADMIN": pg_server},
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"^in process: \d+ pushes, service=\d+ pushes/s raw_asyncclient=\d+ posts/s "
                     r"ratio=\d+\.\d\d, limit \d+ pushes/s, service/limit=\d+\.\d\d$", out, re.M), out
    assert re.search(r"^one article to 10 partners, event handled -> all delivered: median \d+ ms", out,
                     re.M), out
    assert re.search(r"^limit: \d+ in flight / 20 ms = \d+ pushes/s", out, re.M), out
    assert re.search(r"^burst: \d+ pushes .* rate/limit=\d+\.\d\d$", out, re.M), out
    assert re.search(r"^peak worker RSS = \d+ MB per process$", out, re.M), out
