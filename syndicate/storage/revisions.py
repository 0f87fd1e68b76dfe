"""Which migrations this release ships, read from the revision files' text: without SQLAlchemy,
Alembic or the migrations themselves, so a short command can check a database's schema."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterable
from pathlib import Path

from syndicate.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=\n]*=\s*(.+?)\s*$", re.MULTILINE)


@functools.cache
def _revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(every migration, the migrations some other one revises), read once per process: the
    files ship with the code."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue
        revisions.add(str(ast.literal_eval(found["revision"])))
        down = ast.literal_eval(found.get("down_revision", "None"))
        revised.update([down] if isinstance(down, str) else list(down or ()))
    return frozenset(revisions), frozenset(revised)


def head_revisions() -> set[str]:
    """The newest migrations (those no other one revises); tests check it against Alembic's."""
    revisions, revised = _revisions()
    return set(revisions - revised)


def refuse_unknown(applied: Iterable[str]) -> None:
    """Raise ConfigError when the database was migrated by a newer syndicate than this one."""
    unknown = set(applied) - _revisions()[0]
    if unknown:
        raise ConfigError(
            f"the database is at migration {', '.join(sorted(unknown))}, which this version of "
            f"syndicate does not know (its newest is {', '.join(sorted(head_revisions()))}); run the "
            "syndicate release that upgraded it, or a newer one")


def is_head(applied: Iterable[str]) -> bool:
    """True when `applied` (alembic_version's rows) is exactly the newest migrations; raises
    ConfigError for a migration this release does not know (see refuse_unknown)."""
    applied = set(applied)
    refuse_unknown(applied)
    return applied == head_revisions()
