"""Celery tasks of partner pushes: one attempt of one delivery, and the beat sweep of due retries."""

from __future__ import annotations

from syndicate.partners import service
from worker.app import app, container


@app.task(name=service.PUSH_TASK)
def push_delivery(delivery_id: int) -> str:
    """Attempt one partner delivery if it is due; returns what happened (idempotent)."""
    return service.attempt(container(), int(delivery_id))


@app.task(name=service.SWEEP_TASK)
def sweep_due() -> int:
    """Enqueue pushes of deliveries whose retry time has come; beat runs this every few seconds."""
    return service.sweep(container())
