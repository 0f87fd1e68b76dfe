"""Celery tasks: decode, call a service, return. No business logic lives here."""

from __future__ import annotations

from syndicate.broker import HANDLE_EVENT, RELAY_OUTBOX
from syndicate.services import messagebus, outbox
from worker.app import app, container


@app.task(
    name=HANDLE_EVENT,
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=6,
)
def handle_event(event_id: int) -> bool:
    """Run the handlers of one outbox event (idempotent)."""
    return messagebus.handle_event(container(), int(event_id))


@app.task(name=RELAY_OUTBOX)
def relay_outbox() -> int:
    """Hand pending outbox events to the broker; beat runs this every few seconds."""
    c = container()
    return outbox.relay_pending(c.uow, c.publisher, now=c.now)
