"""The partner benchmark runs and prints one line per partner count (figures are never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT


def test_bench_quick_prints_a_line_per_partner_count() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "partners.py"), "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("partners=")]
    assert [line.split()[0] for line in lines] == ["partners=1", "partners=10", "partners=50"]
    for line in lines:
        assert re.search(r"service=\d+ pushes/s raw_httpx=\d+ posts/s ratio=\d+\.\d\d$", line), line
