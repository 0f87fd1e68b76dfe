"""A handful of partners, one article, and their endpoint down while the pushes start.

The endpoint answers 503 (with `Retry-After: 2`, which the schedule honours) until every partner
has been refused at least twice, then comes back. Every partner must then receive its push exactly
once, and the delivery log must say delivered for each webhook-id the endpoint counted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from tests.faults.scenario import MailScenario, _poll, log
from tests.faults.servers import CountingReceiver

PARTNERS = 5


def test_partner_endpoint_down_then_back_gets_each_push_once(
    scenario: Callable[..., MailScenario],
) -> None:
    s = scenario(n=0, publish=False)
    endpoint = CountingReceiver()
    try:
        endpoint.up, endpoint.retry_after = False, 2
        ids = []
        for i in range(PARTNERS):
            added = s.cli("partners", "add", f"partner-{i}", f"{endpoint.url}/{i}")
            assert added.returncode == 0, added.stderr
            ids.append(int(added.stdout.split()[0]))
        s.start_worker()
        start = time.monotonic()
        s.publish_sample()
        _poll(lambda: len(endpoint.refusals()) == PARTNERS
              and min(endpoint.refusals().values()) >= 2, 120, "every partner refused twice")
        endpoint.up = True
        back = time.monotonic()
        log(f"endpoint back after {back - start:.1f} s; refusals {sorted(endpoint.refusals().values())}")
        _poll(lambda: len(endpoint.counts()) == PARTNERS, 180, "a push to every partner")
        log(f"every partner had its push {time.monotonic() - back:.1f} s after the endpoint came back")

        def settled() -> list[dict[str, object]] | None:
            rows = [json.loads(line) for pid in ids
                    for line in s.cli("partners", "deliveries", str(pid), "--json").stdout.splitlines()]
            return rows if all(r["status"] != "pending" for r in rows) else None

        _poll(lambda: settled() is not None, 60, "the delivery log to settle")
        time.sleep(2)  # a late duplicate push would arrive now
        log_rows = settled() or []
        received = endpoint.counts()
        assert sorted(received.values()) == [1] * PARTNERS, f"pushes per webhook-id: {received}"
        assert sorted((r["webhook_id"], r["status"]) for r in log_rows) == sorted(
            (wid, "delivered") for wid in received), log_rows
        assert set(endpoint.refusals()) == set(received)  # the same webhook-id on every retry
    finally:
        endpoint.close()
