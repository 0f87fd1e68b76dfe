"""The TaskQueue adapter: commands to Celery tasks, the broker-down fallback, the beat schedule.

This module and `broker/files.py` are the only ones that know Celery's sending side and kombu's
errors. Feature code submits `domain.commands` objects; the table below names the task that runs
each, the worker's task modules register under the same names, and the beat schedule names its
tasks through the same table, so a renamed task cannot leave beat calling the old name.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import redis
from celery import Celery
from kombu.exceptions import KombuError, OperationalError

from syndicate.broker.files import TRANSPORT
from syndicate.domain import commands as c
from syndicate.errors import BrokerUnavailable
from syndicate.settings import Settings

if TYPE_CHECKING:
    from syndicate.bootstrap import Container

log = logging.getLogger(__name__)

#: Command type → Celery task name. The names are what brokers hold in queued messages: keep them.
TASK_NAMES: Final[dict[type[c.Command], str]] = {
    c.HandleEvent: "syndicate.handle_event",
    c.RelayOutbox: "syndicate.relay_outbox",
    c.SendBatch: "syndicate.digests.send_batch",
    c.SweepDeliveries: "syndicate.digests.sweep",
    c.BuildDueEditions: "syndicate.digests.build_due",
    c.PushDelivery: "syndicate.partners.push",
    c.PushDeliveries: "syndicate.partners.push_batch",
    c.SweepPartners: "syndicate.partners.sweep",
    c.RebuildFeeds: "syndicate.feeds.rebuild_article",
    c.PingHub: "syndicate.feeds.websub_ping",
}

#: The worker's task modules, imported by Celery in worker processes only (never by bootstrap).
TASK_MODULES: Final = (
    "syndicate.worker.tasks", "syndicate.worker.feeds_tasks", "syndicate.worker.partners_tasks",
    "syndicate.worker.digest_tasks",
)

_BROKER_ERRORS = (OperationalError, KombuError, OSError)


def task_name(command: type[c.Command]) -> str:
    """The Celery task name that runs commands of this type."""
    return TASK_NAMES[command]


class SyndicateCelery(Celery):
    """The Celery app bootstrap builds; its tasks reach the process's container through it."""

    container: Container | None = None


#: Key of the broker epoch in Redis. Redis without persistence loses it together with the queues.
EPOCH_KEY: Final = "syndicate:broker-epoch"
#: The file broker's epoch when no worker ever started (the file below does not exist yet).
FILES_EPOCH: Final = "files"
#: The file broker's epoch, in its folder: a new id each time a worker starts. Its queue survives
#: restarts, but a message a worker had taken is gone with that worker (the file broker has no
#: acknowledgements), so rows enqueued before the start are enqueued again; a batch that was
#: still waiting in the folder then runs twice, and its second run finds nothing due.
FILES_EPOCH_FILE: Final = "epoch"


def files_broker_dir(settings: Settings) -> Path:
    """The file broker's folder under VAR_DIR."""
    return (settings.var_dir / "broker").resolve()


def files_epoch(broker_dir: Path) -> str:
    """The file broker's epoch (see FILES_EPOCH_FILE)."""
    try:
        return (broker_dir / FILES_EPOCH_FILE).read_text(encoding="utf-8").strip() or FILES_EPOCH
    except FileNotFoundError:
        return FILES_EPOCH


def new_files_epoch(broker_dir: Path) -> str:
    """Start a new file-broker epoch (a worker is starting); written atomically."""
    epoch = uuid.uuid4().hex
    broker_dir.mkdir(parents=True, exist_ok=True)
    tmp = broker_dir / f".{FILES_EPOCH_FILE}.{os.getpid()}"
    tmp.write_text(epoch, encoding="utf-8")
    os.replace(tmp, broker_dir / FILES_EPOCH_FILE)
    return epoch


class CeleryTaskQueue:
    """TaskQueue on a Celery app: one task per command, never blocking on a broker that is down."""

    def __init__(self, app: Celery, queue: str, redis_url: str | None = None,
                 broker_dir: Path | None = None) -> None:
        self.app = app
        self.broker_dir = broker_dir
        self.queue = queue
        #: Commands the broker refused in this process, and why the last one was refused: a CLI
        #: command reads them to say that the broker is down and its work waits in the database.
        self.refused: list[c.Command] = []
        self.last_refusal: str | None = None
        self.redis_url = redis_url
        self._redis: Any = None

    def epoch(self) -> str:
        """The broker epoch: a random id kept in Redis next to the queues (set on first use).

        When Redis restarts without its data, the id is gone with the queued messages, and the
        next caller sets a new one. Raises BrokerUnavailable when Redis does not answer.
        """
        if self.redis_url is None:
            return files_epoch(self.broker_dir) if self.broker_dir is not None else FILES_EPOCH
        if self._redis is None:
            self._redis = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=2)
        try:
            self._redis.set(EPOCH_KEY, uuid.uuid4().hex, nx=True)
            value = self._redis.get(EPOCH_KEY)
        except (redis.RedisError, OSError) as exc:
            raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return value.decode() if isinstance(value, bytes) else str(value)

    def submit(self, command: c.Command) -> bool:
        """Enqueue the command's task; False (logged, kept in `refused`) when the broker refused it."""
        name = TASK_NAMES[type(command)]
        try:
            self.app.send_task(name, args=list(dataclasses.astuple(command)), queue=self.queue,
                               retry=False)
        except _BROKER_ERRORS as exc:
            self.refused.append(command)
            self.last_refusal = " ".join(f"{type(exc).__name__}: {exc}".split())
            log.warning("broker refused %s%s: %s: %s; the beat sweep will submit it again",
                        type(command).__name__, dataclasses.astuple(command), type(exc).__name__, exc)
            return False
        return True

    def ping(self) -> None:
        """Open and close a broker connection; raises BrokerUnavailable when it fails."""
        try:
            with self.app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=3)
        except _BROKER_ERRORS as exc:
            raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc


def broker_name(settings: Settings) -> str:
    """The broker as messages name it, never with credentials: 'Redis at HOST:PORT' or the folder."""
    if settings.redis_url:
        url = urlsplit(settings.redis_url)
        return f"Redis at {url.hostname or 'localhost'}:{url.port or 6379}"
    return f"the file broker in {settings.var_dir / 'broker'}"


def broker_options(settings: Settings) -> tuple[str | None, dict[str, Any]]:
    """The broker URL and transport options: Redis when REDIS_URL is set, else files in var/.

    The files case has no URL: `configure_celery` then selects our file transport by class.
    """
    # Producers fail fast (one quick retry) when the broker is down: the database keeps the work
    # and a sweep submits it later, so blocking an import or a request for seconds buys nothing.
    fail_fast = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
    if settings.redis_url:
        return settings.redis_url, {"visibility_timeout": 3600, **fail_fast}
    folder = files_broker_dir(settings)
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


def _every(command: type[c.Command], seconds: float, *, expires: float) -> dict[str, Any]:
    return {"task": TASK_NAMES[command], "schedule": timedelta(seconds=seconds),
            "options": {"expires": expires}}


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """What beat runs and how often; each entry expires so a backlog never piles up."""
    return {
        "relay-outbox": _every(c.RelayOutbox, settings.outbox_sweep_seconds,
                               expires=max(settings.outbox_sweep_seconds * 3, 30)),
        "digests-sweep": _every(c.SweepDeliveries, settings.mail_sweep_seconds,
                                expires=max(settings.mail_sweep_seconds * 3, 30)),
        "digests-build-due": _every(c.BuildDueEditions, 300, expires=600),
        "partners-sweep": _every(c.SweepPartners, settings.partner_sweep_seconds,
                                 expires=max(settings.partner_sweep_seconds * 3, 30)),
    }


def make_celery(settings: Settings) -> SyndicateCelery:
    """A new, configured Celery app. Nothing connects here; connections open on first use."""
    app = SyndicateCelery("syndicate", include=list(TASK_MODULES))
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
        beat_schedule=beat_schedule(settings),
    )
    return app
