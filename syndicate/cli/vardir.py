"""Where embedded data lives when VAR_DIR is not set: `./var`, or the one `serve` first used.

Embedded mode keeps everything in VAR_DIR (default `var/` under the current directory). Run from
another directory, a command would quietly create a second, empty `var/` there and report an
empty database. So the first `serve` that starts on an implicit `var/` remembers its absolute
path in the user's state directory, and a later command that finds no `var/` where it runs uses
that one (saying so on stderr). Nothing here applies when VAR_DIR or DATABASE_URL is set.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

STATE_FILE = "var-dir"
DEFAULT = Path("var")


def state_path() -> Path:
    """`$XDG_STATE_HOME/syndicate/var-dir` (default `~/.local/state/...`)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "syndicate" / STATE_FILE


def remembered() -> Path | None:
    """The `var/` the first `serve` used, if it still holds a database."""
    try:
        found = Path(state_path().read_text(encoding="utf-8").strip())
    except OSError:
        return None
    return found if (found / "syndicate.db").is_file() else None


def _remember(path: Path) -> None:
    state = state_path()
    try:
        state.parent.mkdir(parents=True, exist_ok=True)
        state.write_text(f"{path.resolve()}\n", encoding="utf-8")
    except OSError as exc:  # a read-only home only loses the convenience
        print(f"note: could not remember VAR_DIR in {state}: {exc}", file=sys.stderr)


def choose(command: str | None) -> None:
    """Set VAR_DIR for this process (and its children) before settings are read.

    With neither VAR_DIR nor DATABASE_URL set: `./var` when it exists; else the remembered one
    when it still exists; else `./var` is created as before, and `serve` remembers it.
    """
    if os.environ.get("VAR_DIR") or os.environ.get("DATABASE_URL"):
        return
    if DEFAULT.is_dir():
        if command == "serve" and remembered() is None:
            _remember(DEFAULT)
        return
    earlier = remembered()
    if earlier is not None:
        os.environ["VAR_DIR"] = str(earlier)
        print(f"note: no var/ here; using VAR_DIR={earlier}, where `syndicate serve` first ran "
              "(set VAR_DIR to choose another)", file=sys.stderr)
        return
    if command == "serve":
        _remember(DEFAULT)
