"""Celery tasks of partner pushes: a batch of deliveries in flight together, and the beat sweep."""

from __future__ import annotations

from celery import Task, shared_task

from syndicate.broker.taskqueue import task_name
from syndicate.domain.commands import PushDeliveries, PushDelivery, SweepPartners

from .runtime import container_of


@shared_task(name=task_name(PushDeliveries), bind=True)
def push_deliveries(self: Task, delivery_ids: list[int]) -> dict[str, int]:
    """Attempt each delivery of the batch that is due, together; returns outcome counts (idempotent)."""
    return container_of(self).partner_pushes.push_task([int(i) for i in delivery_ids])


@shared_task(name=task_name(PushDelivery), bind=True)
def push_delivery(self: Task, delivery_id: int) -> dict[str, int]:
    """A push queued before batches existed: a batch of one."""
    return container_of(self).partner_pushes.push_task([int(delivery_id)])


@shared_task(name=task_name(SweepPartners), bind=True)
def sweep_due(self: Task) -> int:
    """Enqueue pushes of deliveries whose retry time has come; beat runs this every few seconds."""
    return container_of(self).partner_pushes.sweep()
