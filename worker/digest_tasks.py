"""Celery tasks of the digests: decode, call a service, return."""

from __future__ import annotations

from syndicate.digests import fanout, service
from worker.app import app, container


@app.task(name=service.SEND_BATCH)
def send_batch(edition_id: int, lo: int, hi: int) -> dict[str, int]:
    """Send one batch of an edition (idempotent: only rows this run claims are mailed)."""
    return fanout.send_batch(container(), int(edition_id), int(lo), int(hi)).counts


@app.task(name=service.SWEEP)
def sweep() -> int:
    """Enqueue due retries and rows whose task was lost; beat runs this periodically."""
    return service.sweep(container())


@app.task(name=service.BUILD_DUE)
def build_due() -> list[int]:
    """Build the daily and weekly editions that are due; beat runs this periodically."""
    return service.build_due(container())
