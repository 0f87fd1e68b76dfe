"""bench/admin.py runs end to end in its quick form and prints its table (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_admin_bench_quick(pg_server: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "admin.py"), "--quick", "--repeat", "3", "--pg", pg_server],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for label in ("overview", "editions list", "edition (failed rows)", "api deliveries failed",
                  "baseline /healthz"):
        assert label in out
    assert "ratio large/small: worst page" in out
    assert "sequential scans of deliveries:" in out
