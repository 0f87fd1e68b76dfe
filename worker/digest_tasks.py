"""Celery tasks of the digests: decode, call a service, return."""

from __future__ import annotations

from celery import Task, shared_task

from syndicate.broker.taskqueue import task_name
from syndicate.domain.commands import BuildDueEditions, SendBatch, SweepDeliveries

from .runtime import container_of


@shared_task(name=task_name(SendBatch), bind=True)
def send_batch(self: Task, edition_id: int, lo: int, hi: int) -> dict[str, int]:
    """Send one batch of an edition (idempotent: only rows this run claims are mailed)."""
    return container_of(self).digests.send_batch(int(edition_id), int(lo), int(hi)).counts


@shared_task(name=task_name(SweepDeliveries), bind=True)
def sweep(self: Task) -> int:
    """Enqueue due retries and rows whose task was lost; beat runs this periodically."""
    return container_of(self).digests.sweep()


@shared_task(name=task_name(BuildDueEditions), bind=True)
def build_due(self: Task) -> list[int]:
    """Build the daily and weekly editions that are due; beat runs this periodically."""
    return container_of(self).digests.build_due()
