"""Celery configuration for both run modes, and the outbox's publisher on top of it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Celery
from kombu.exceptions import KombuError, OperationalError

from syndicate.broker_files import TRANSPORT
from syndicate.errors import BrokerUnavailable
from syndicate.settings import Settings

HANDLE_EVENT = "syndicate.handle_event"
RELAY_OUTBOX = "syndicate.relay_outbox"


def broker_options(settings: Settings) -> tuple[str | None, dict[str, Any]]:
    """The broker URL and transport options: Redis when REDIS_URL is set, else files in var/.

    The files case has no URL: `configure_celery` then selects our file transport by class.
    """
    # Producers fail fast (one quick retry) when the broker is down: the outbox keeps the event and
    # the relay hands it over later, so blocking an import or a request for seconds buys nothing.
    fail_fast = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
    if settings.redis_url:
        return settings.redis_url, {"visibility_timeout": 3600, **fail_fast}
    folder = (settings.var_dir / "broker").resolve()
    queue = folder / "queue"
    processed = folder / "processed"
    control = folder / "control"
    for path in (queue, processed, control):
        path.mkdir(parents=True, exist_ok=True)
    return None, {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(processed),
        "control_folder": str(control),
        "store_processed": False,
        **fail_fast,
    }


def configure_celery(app: Celery, settings: Settings) -> None:
    """Apply settings to the app. Nothing connects here; connections open on first use."""
    url, transport_options = broker_options(settings)
    app.conf.update(
        broker_url=url,
        broker_transport=None if url else TRANSPORT,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=4,
        task_default_queue=settings.celery_queue,
        task_ignore_result=True,
        # A killed worker must not lose its task: ack after running, requeue on loss.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        beat_schedule={
            "relay-outbox": {
                "task": RELAY_OUTBOX,
                "schedule": timedelta(seconds=settings.outbox_sweep_seconds),
                "options": {"expires": max(settings.outbox_sweep_seconds * 3, 30)},
            },
            "digests-sweep": {
                "task": "syndicate.digests.sweep",
                "schedule": timedelta(seconds=settings.mail_sweep_seconds),
                "options": {"expires": max(settings.mail_sweep_seconds * 3, 30)},
            },
            "digests-build-due": {
                "task": "syndicate.digests.build_due",
                "schedule": timedelta(minutes=5),
                "options": {"expires": 600},
            },
            "partners-sweep": {
                "task": "syndicate.partners.sweep",
                "schedule": timedelta(seconds=settings.partner_sweep_seconds),
                "options": {"expires": max(settings.partner_sweep_seconds * 3, 30)},
            },
        },
    )


class CeleryEventPublisher:
    """EventPublisher that enqueues the handle-event task; never retries or blocks for long."""

    def __init__(self, app: Celery, queue: str) -> None:
        self.app = app
        self.queue = queue

    def publish(self, event_id: int) -> None:
        try:
            self.app.send_task(HANDLE_EVENT, args=[event_id], queue=self.queue, retry=False)
        except (OperationalError, KombuError, OSError) as exc:
            raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def ping(self) -> None:
        """Open and close a broker connection; raises BrokerUnavailable when it fails."""
        try:
            with self.app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=3)
        except (OperationalError, KombuError, OSError) as exc:
            raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc
