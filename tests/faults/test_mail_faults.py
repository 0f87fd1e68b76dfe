"""A digest of 1,000 subscribers on PostgreSQL + Redis, a real worker with beat, one fault each.

Each fault is injected once, when the SMTP server has seen 30 % of the addresses. The test then
waits (up to 180 s) for every address to have a copy and the ledger to settle, and asserts what a
reader would notice: nobody without the digest, nobody with a second copy beyond the one in flight
on each connection of a killed sending process, and a ledger that says what the mail server received.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.faults.conftest import assert_exact
from tests.faults.scenario import (
    CONNECTIONS,
    MailScenario,
    kill_worker,
    postgres_down,
    redis_down,
    smtp_down,
)

N = 1000

def test_killed_worker_costs_at_most_one_copy_per_connection(scenario: Callable[..., MailScenario]) -> None:
    s = scenario(n=N)
    s.start_worker()
    outcome = s.run(kill_worker)
    assert outcome.killed_senders >= 1
    # At most one copy per connection of each killed process: the message in flight on it.
    assert_exact(outcome, extra_allowed=outcome.killed_senders * CONNECTIONS)


def test_postgres_down_20s_during_a_send_mails_nobody_twice(scenario: Callable[..., MailScenario]) -> None:
    """PostgreSQL stopped for 20 s (`pg_ctl stop`, fast mode: every connection cut) mid-send.

    Senders wait for it, record the message they had sent, and go on: exact. A *crash* of the
    database server is another matter: outcomes are committed without waiting for the disk, so a
    crash can lose the last few hundred milliseconds of them and mail those readers again (the
    README says so; `bench/faults.py --fault pg-crash` measures it).
    """
    s = scenario(n=N)
    s.start_worker()
    assert_exact(s.run(postgres_down(20, "fast")), extra_allowed=0)


def test_postgres_restarted_quickly(scenario: Callable[..., MailScenario]) -> None:
    """An operator's restart (`pg_ctl restart`, fast mode): every connection cut, nothing lost."""
    s = scenario(n=N)
    s.start_worker()
    assert_exact(s.run(postgres_down(0, "fast")), extra_allowed=0)


@pytest.mark.parametrize("appendonly", [False, True], ids=["no-persistence", "append-only-file"])
def test_redis_down_20s(scenario: Callable[..., MailScenario], appendonly: bool) -> None:
    s = scenario(n=N, appendonly=appendonly)
    s.start_worker()
    assert_exact(s.run(redis_down(20)), extra_allowed=0)


def test_smtp_server_down_20s(scenario: Callable[..., MailScenario]) -> None:
    s = scenario(n=N)
    s.start_worker()
    assert_exact(s.run(smtp_down(20)), extra_allowed=0)
