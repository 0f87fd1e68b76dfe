"""Embedded mode: `syndicate serve` (SQLite, file broker) sends 1,000 digests; its worker is killed.

`serve` starts a new worker itself; the test only kills. The new worker must finish the edition
with at most one copy beyond the one the killed worker had in flight.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.faults.conftest import assert_exact
from tests.faults.scenario import CONNECTIONS, MailScenario, kill_serve_worker


def test_killed_embedded_worker_is_replaced_and_mails_nobody_twice(
    scenario: Callable[..., MailScenario],
) -> None:
    s = scenario(n=1000, embedded=True)
    s.start_serve()
    outcome = s.run(kill_serve_worker)
    assert "the worker exited with code -9" in s.procs[0].log_path.read_text()  # type: ignore[attr-defined]
    # At most one copy per connection of each killed process: the message in flight on it.
    assert_exact(outcome, extra_allowed=outcome.killed_senders * CONNECTIONS)
