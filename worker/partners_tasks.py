"""Celery tasks of partner pushes: one attempt of one delivery, and the beat sweep of due retries."""

from __future__ import annotations

from celery import Task, shared_task

from syndicate.broker.taskqueue import task_name
from syndicate.domain.commands import PushDelivery, SweepPartners

from .runtime import container_of


@shared_task(name=task_name(PushDelivery), bind=True)
def push_delivery(self: Task, delivery_id: int) -> str:
    """Attempt one partner delivery if it is due; returns what happened (idempotent)."""
    return container_of(self).partner_pushes.attempt(int(delivery_id)).value


@shared_task(name=task_name(SweepPartners), bind=True)
def sweep_due(self: Task) -> int:
    """Enqueue pushes of deliveries whose retry time has come; beat runs this every few seconds."""
    return container_of(self).partner_pushes.sweep()
