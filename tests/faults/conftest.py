"""Fixtures of the fault suite: a scenario of the test's own, closed (every process and server
stopped) after the test. Needs `redis-server` and PostgreSQL's `initdb`/`pg_ctl`; when CI=true a
missing one fails the test, never skips it.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.scenario import MailScenario, Outcome, describe

IN_CI = os.environ.get("CI", "").lower() == "true"


def _require_servers() -> None:
    missing = [name for name, found in (
        ("redis-server", shutil.which("redis-server")),
        ("initdb/pg_ctl", glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")),
        ("runuser", shutil.which("runuser")),
    ) if not found]
    if missing:
        if IN_CI:
            pytest.fail(f"{', '.join(missing)} not installed and CI=true: a missing server is a failure")
        pytest.skip(f"{', '.join(missing)} not installed")
    if os.geteuid() != 0:
        # runuser -u postgres needs root; a developer without it runs the suite in the container.
        if IN_CI:
            pytest.fail("the fault suite runs PostgreSQL as the postgres user: it needs root")
        pytest.skip("the fault suite needs root (runuser -u postgres)")


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Callable[..., MailScenario]]:
    """Build and start a MailScenario (keyword arguments as MailScenario's); closed after the test.

    Its processes' logs stay in the test's tmp_path (pytest keeps the last three runs).
    """
    built: list[MailScenario] = []

    def make(**kw: Any) -> MailScenario:
        if not kw.get("embedded"):
            _require_servers()
        s = MailScenario(tmp_path / f"scenario-{len(built)}", **kw)
        s.workdir.mkdir()
        built.append(s)
        s.start()
        return s

    yield make
    for s in built:
        s.close()


def assert_exact(outcome: Outcome, *, extra_allowed: int) -> None:
    """Nobody got nothing; at most `extra_allowed` copies beyond one each in all, and no address more
    than one extra per killed sending process; the ledger equals the server."""
    facts = describe(outcome)
    assert outcome.complete, f"the send never completed: {facts}"
    assert outcome.missing == 0, f"{outcome.missing} addresses got nothing: {facts}"
    assert outcome.extra_copies <= extra_allowed, (
        f"{outcome.doubled} addresses got 2+ copies ({outcome.extra_copies} extra, "
        f"{extra_allowed} allowed): {facts}")
    # Each killed process had at most one message in flight to any one address.
    assert outcome.most_copies <= 1 + outcome.killed_senders, (
        f"an address got {outcome.most_copies} copies, more than one beyond its own per killed "
        f"sending process: {facts}")
    assert outcome.ledger.get("sent") == len(outcome.copies) == outcome.n, facts
    assert sum(outcome.copies.values()) == outcome.ledger["sent"] + outcome.extra_copies
    unsettled = {k: v for k, v in outcome.ledger.items() if k != "sent" and v}
    assert unsettled == {}, f"the ledger disagrees with the server: {facts}"
