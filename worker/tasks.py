"""Celery tasks of the outbox: decode, call a service, return. No business logic lives here."""

from __future__ import annotations

from celery import Task, shared_task

from syndicate.broker.taskqueue import task_name
from syndicate.domain.commands import HandleEvent, RelayOutbox
from syndicate.services import messagebus, outbox

from .runtime import container_of


@shared_task(
    name=task_name(HandleEvent),
    bind=True,
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=6,
)
def handle_event(self: Task, event_id: int) -> bool:
    """Run the handlers of one outbox event (idempotent)."""
    c = container_of(self)
    return messagebus.handle_event(int(event_id), uow=c.uow, now=c.now, handlers=c.handlers)


@shared_task(name=task_name(RelayOutbox), bind=True)
def relay_outbox(self: Task) -> int:
    """Hand pending outbox events to the broker; beat runs this every few seconds, so it is also
    the scheduler's heartbeat (`/healthz` scheduler, `syndicate_scheduler_last_seen_seconds`)."""
    c = container_of(self)
    c.telemetry.seen("scheduler")
    return outbox.relay_pending(c.uow, c.tasks, now=c.now)
