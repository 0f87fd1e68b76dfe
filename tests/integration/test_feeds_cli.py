"""`syndicate feeds build [--out DIR]` and the benchmark's smoke run, as a user runs them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT, run_cli
from tests.unit.feeds_validity import check_atom, check_json, check_rss


def test_feeds_build_writes_every_feed_and_prints_each_path(embedded_env: dict[str, str],
                                                              tmp_path: Path, var_dir: Path) -> None:
    imported = run_cli(["articles", "import", *map(str, sorted(EXAMPLES.iterdir()))], embedded_env)
    assert imported.returncode == 0, imported.stderr
    out = tmp_path / "out"
    built = run_cli(["feeds", "build", "--out", str(out)], embedded_env)
    assert built.returncode == 0, built.stderr
    printed = built.stdout.split()
    for relpath in ("rss.xml", "atom.xml", "feed.json", "category/security/atom.xml", "lang/ru/rss.xml"):
        assert str(out / relpath) in printed
    for path in map(Path, printed):
        data = path.read_bytes()
        {"rss.xml": check_rss, "atom.xml": check_atom, "feed.json": check_json}[path.name](data)
    again = run_cli(["feeds", "build", "--out", str(out)], embedded_env)
    assert again.stdout == built.stdout and "0 changed" in again.stderr
    default = run_cli(["feeds", "build"], embedded_env)
    assert default.returncode == 0 and (var_dir / "public" / "feeds" / "atom.xml").exists()
    assert (var_dir / "public" / "feeds" / "atom.xml").read_bytes() == (out / "atom.xml").read_bytes()


def test_bench_quick_runs_end_to_end_and_prints_ratios() -> None:
    if shutil.which("nginx") is None:
        pytest.fail("nginx is not installed (Debian package nginx); bench/feeds.py needs it")
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "feeds.py"), "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ratio latency 3000/100 =" in done.stdout
    assert "ratio rate 200 app/nginx =" in done.stdout
    assert "ratio rate 304 app/nginx =" in done.stdout
