"""`GET /metrics` in the Prometheus text format, and the scheduler's liveness for `/healthz`.

Every number is read from the database at scrape time (`storage/metrics_read.py`), so scraping
any API process gives the same answer, whichever process did the work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from syndicate.storage.metrics_read import OperatorMetrics
from syndicate.web.deps import ContainerDep

router = APIRouter(include_in_schema=False)
SCHEDULER = "scheduler"


@dataclass(frozen=True)
class SchedulerHealth:
    """'ok' when the scheduler ran the outbox relay within `limit_s`, else 'stale' (or never ran)."""

    state: str
    last_seen_s: float | None
    limit_s: float


def scheduler_health(last_seen: datetime | None, *, now: datetime, sweep_seconds: float) -> SchedulerHealth:
    """Stale when not seen for 3 × OUTBOX_SWEEP_SECONDS + 30 s (beat runs the relay every sweep)."""
    limit = 3 * sweep_seconds + 30
    age = None if last_seen is None else max(0.0, (now - last_seen).total_seconds())
    return SchedulerHealth("ok" if age is not None and age <= limit else "stale", age, limit)


def metric_families(m: OperatorMetrics, *, now: datetime) -> list[Metric]:
    """The metric families of one scrape (see the README's "Operating it" for their meaning)."""
    deliveries = GaugeMetricFamily("syndicate_mail_deliveries",
                                   "Email deliveries in the ledger by state, over every edition",
                                   labels=["state"])
    for state, n in m.deliveries.items():
        deliveries.add_metric([state], n)
    partners = GaugeMetricFamily("syndicate_partner_deliveries", "Partner deliveries by status",
                                 labels=["status"])
    for status, n in m.partner_deliveries.items():
        partners.add_metric([status], n)
    oldest = m.outbox_oldest_pending
    families: list[Metric] = [
        deliveries,
        GaugeMetricFamily("syndicate_mail_sent_last_minute",
                          "Deliveries recorded as sent in the last 60 seconds (the send rate)",
                          value=m.sent_last_minute),
        GaugeMetricFamily("syndicate_outbox_pending", "Outbox events not handled yet",
                          value=m.outbox_pending),
        GaugeMetricFamily("syndicate_outbox_lag_seconds",
                          "Age of the oldest unhandled outbox event (0 when none waits)",
                          value=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0),
        partners,
        GaugeMetricFamily("syndicate_partner_dead_letters",
                          "Partner deliveries given up (status dead) until an admin replays them",
                          value=m.partner_deliveries.get("dead", 0)),
        CounterMetricFamily("syndicate_lease_takeovers",
                            "Rows taken over from a sender or pusher whose lease ran out",
                            value=m.stats.get("lease_takeovers", 0.0)),
    ]
    if "feed_build_seconds" in m.stats:
        families.append(GaugeMetricFamily("syndicate_feed_build_seconds",
                                          "Duration of the last feed rebuild of an article",
                                          value=m.stats["feed_build_seconds"]))
    if SCHEDULER in m.seen:
        families.append(GaugeMetricFamily(
            "syndicate_scheduler_last_seen_seconds",
            "Seconds since the scheduler (beat, through a worker) last ran the outbox relay",
            value=max(0.0, (now - m.seen[SCHEDULER]).total_seconds())))
    return families


class _Scrape:
    """A collector holding one scrape's families (a registry per request: nothing is global)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


@router.get("/metrics")
def metrics(container: ContainerDep) -> Response:
    """Operator metrics, computed from the database now, in the Prometheus text format."""
    now = container.now()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scrape(metric_families(container.metrics_reads.snapshot(now=now), now=now)))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
