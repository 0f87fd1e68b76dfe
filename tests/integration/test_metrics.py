"""`/metrics` and `/healthz` on SQLite and PostgreSQL: the numbers are the ledger's, scraped."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from syndicate.web.app import create_app
from tests.integration.digest_helpers import SmtpSink, add_active, make_list, publish_sample

pytest_plugins = ["tests.integration.conftest_digests"]


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (name, labels)."""
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


@pytest.fixture(params=["sqlite", "postgresql"])
def metered(request: pytest.FixtureRequest, make_container: Callable[..., Any], smtp_sink: SmtpSink) -> Any:
    options = {"database_url": request.getfixturevalue("pg_url")} if request.param == "postgresql" else {}
    return make_container(smtp_url=smtp_sink.url, base_url="https://news.example.com",
                          mail_batch_size=2, mail_retry_seconds=0.0, **options)


def test_metrics_are_what_the_ledger_holds_after_a_small_send(metered: Any, smtp_sink: SmtpSink) -> None:
    c = metered
    client = TestClient(create_app(c))
    lst = make_list(c)
    add_active(c, lst, [f"r{n}@example.com" for n in range(5)] + ["gone@example.com", "later@example.com"])
    smtp_sink.replies = {"gone@example.com": ["550 5.1.1 no such user"],
                         "later@example.com": ["451 4.7.1 greylisted"]}
    publish_sample(c)
    first = c.digests.send_now("world")
    assert first is not None
    c.digests.send_batch(first, 0, 2**62)
    ledger = c.digests.edition_counts(first)
    assert (ledger["sent"], ledger["bounced"], ledger["queued"]) == (5, 1, 1)  # "later" waits a retry

    seen = scrape(client)
    for state, n in ledger.items():
        assert seen[("syndicate_mail_deliveries", (("state", state),))] == n
    assert seen[("syndicate_mail_sent_last_minute", ())] == 5
    assert len(smtp_sink.recipients()) == 5

    # The retry settles the edition: its counts are then the stored ones, and still equal.
    c.digests.sweep()
    c.digests.send_batch(first, 0, 2**62)
    settled = c.digests.edition_counts(first)
    assert (settled["sent"], settled["queued"]) == (6, 0)
    c.digest_reads.editions()  # the admin overview stores the settled counts
    seen = scrape(client)
    for state, n in settled.items():
        assert seen[("syndicate_mail_deliveries", (("state", state),))] == n
    assert seen[("syndicate_mail_sent_last_minute", ())] == 6

    # A minute later nothing was sent in the last minute; the totals stay.
    later = c.now() + timedelta(minutes=2)
    c.now = lambda: later
    seen = scrape(client)
    assert seen[("syndicate_mail_sent_last_minute", ())] == 0
    assert seen[("syndicate_mail_deliveries", (("state", "sent"),))] == 6


def test_outbox_partners_and_runtime_stats(metered: Any) -> None:
    c = metered
    client = TestClient(create_app(c))
    publish_sample(c)  # the file broker takes the event; no worker handles it here
    created = c.now()
    c.now = lambda: created + timedelta(seconds=90)
    seen = scrape(client)
    assert seen[("syndicate_outbox_pending", ())] == 1
    assert seen[("syndicate_outbox_lag_seconds", ())] >= 90
    assert seen[("syndicate_partner_dead_letters", ())] == 0
    assert seen[("syndicate_partner_deliveries", (("status", "pending"),))] == 0
    assert ("syndicate_scheduler_last_seen_seconds", ()) not in seen  # never ran
    assert seen[("syndicate_lease_takeovers_total", ())] == 0

    c.telemetry.count("lease_takeovers", 3)
    c.telemetry.count("lease_takeovers", 2)
    c.telemetry.gauge("feed_build_seconds", 0.25)
    c.telemetry.seen("scheduler")
    c.now = lambda: created + timedelta(seconds=100)
    seen = scrape(client)
    assert seen[("syndicate_lease_takeovers_total", ())] == 5
    assert seen[("syndicate_feed_build_seconds", ())] == 0.25
    assert seen[("syndicate_scheduler_last_seen_seconds", ())] == 10


def test_healthz_says_when_the_scheduler_is_stale_and_stays_200(make_container: Callable[..., Any]) -> None:
    c = make_container(outbox_sweep_seconds=5.0)
    client = TestClient(create_app(c))
    never = client.get("/healthz")
    assert never.status_code == 200
    assert never.json()["scheduler"] == "stale" and "the API itself works" in never.json()["scheduler_note"]
    c.telemetry.seen("scheduler")
    fresh = client.get("/healthz").json()
    assert (fresh["status"], fresh["scheduler"]) == ("ok", "ok") and "scheduler_note" not in fresh
    now = c.now()
    c.now = lambda: now + timedelta(seconds=3 * 5 + 31)  # past 3 × OUTBOX_SWEEP_SECONDS + 30 s
    stale = client.get("/healthz")
    assert stale.status_code == 200 and stale.json()["scheduler"] == "stale"
