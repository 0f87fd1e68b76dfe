"""Without VAR_DIR, commands find the var/ that `serve` first used instead of making an empty one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from syndicate.cli import vardir
from tests.conftest import ROOT


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    first, other = tmp_path / "site", tmp_path / "elsewhere"
    first.mkdir()
    other.mkdir()
    monkeypatch.delenv("VAR_DIR", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return first, other


def test_the_first_serve_is_remembered_and_used_where_there_is_no_var(
    dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    first, other = dirs
    monkeypatch.chdir(first)
    vardir.choose("serve")
    assert "VAR_DIR" not in os.environ  # ./var, created by serve as before
    (first / "var").mkdir()
    (first / "var" / "syndicate.db").write_bytes(b"")
    monkeypatch.chdir(other)
    vardir.choose("articles")
    assert os.environ["VAR_DIR"] == str((first / "var").resolve())
    assert "where `syndicate serve` first ran" in capsys.readouterr().err
    assert not (other / "var").exists()


def test_a_var_here_or_an_explicit_one_wins(dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    first, other = dirs
    (first / "var").mkdir()
    (first / "var" / "syndicate.db").write_bytes(b"")
    monkeypatch.chdir(first)
    vardir.choose("serve")
    (other / "var").mkdir()
    monkeypatch.chdir(other)
    vardir.choose("articles")
    assert "VAR_DIR" not in os.environ  # ./var exists here: used as always
    monkeypatch.setenv("VAR_DIR", "/somewhere/else")
    vardir.choose("articles")
    assert os.environ["VAR_DIR"] == "/somewhere/else"


def test_a_remembered_var_without_a_database_is_ignored(
    dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, other = dirs
    monkeypatch.chdir(first)
    vardir.choose("serve")  # remembered, but serve never created its database
    monkeypatch.chdir(other)
    vardir.choose("articles")
    assert "VAR_DIR" not in os.environ


def test_the_command_line_uses_the_remembered_var(
    dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, other = dirs
    env = {k: v for k, v in os.environ.items() if k not in ("VAR_DIR", "DATABASE_URL")}
    env["PYTHONPATH"] = str(ROOT)
    run = [sys.executable, "-m", "syndicate.cli.main"]
    upgraded = subprocess.run([*run, "db", "upgrade"], cwd=first, env=env, capture_output=True, text=True)
    assert upgraded.returncode == 0, upgraded.stderr
    monkeypatch.chdir(first)
    vardir.choose("serve")  # what `serve` does first in this directory (shared state: XDG_STATE_HOME)
    listed = subprocess.run([*run, "articles", "list"], cwd=other, env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert f"VAR_DIR={(first / 'var').resolve()}" in listed.stderr
    assert not (other / "var").exists()
