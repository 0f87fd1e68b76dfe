"""The one place where syndicate is wired together, for the API, the CLI and the worker alike.

`bootstrap()` builds every process-wide object once (engine, Celery app, task queue, caches) and
binds each event handler to exactly the dependencies it names (`inject_dependencies`), so feature
code never sees the `Container`. Only entrypoints (web, CLI, worker tasks) hold a container.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from syndicate.broker.taskqueue import CeleryTaskQueue, SyndicateCelery, make_celery
from syndicate.digests.bounces import BounceReports
from syndicate.digests.fanout import Fanout, TemplateCache
from syndicate.digests.optin import OptIn
from syndicate.digests.ratelimit import SendPace, make_counter
from syndicate.digests.service import DigestService
from syndicate.digests.tokens import Signer
from syndicate.errors import ConfigError
from syndicate.mail.mailer import Mailer, build_mailer
from syndicate.services.handlers import HANDLERS, Handler
from syndicate.services.messagebus import BoundHandler
from syndicate.settings import Settings, load_settings
from syndicate.storage import db
from syndicate.storage.delivery_store import SqlBounceStore, SqlDeliveryStore
from syndicate.storage.digest_read import DigestReads
from syndicate.storage.edition_store import SqlEditionStore
from syndicate.storage.subscriber_store import SqlDigestUnitOfWork
from syndicate.storage.uow import SqlUnitOfWork


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass
class Container:
    """Everything an entrypoint needs; built once per process by bootstrap()."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    celery: SyndicateCelery
    tasks: CeleryTaskQueue
    now: Callable[[], datetime] = field(default=utc_now)
    handlers: dict[str, list[BoundHandler]] = field(default_factory=dict)
    # --- digests (issue 9, arch-digests): the use cases and read model, built once by bootstrap() ---
    mailer: Mailer = field(init=False)
    digest_uow: Callable[[], SqlDigestUnitOfWork] = field(init=False)
    digests: DigestService = field(init=False)
    optin: OptIn = field(init=False)
    bounce_reports: BounceReports = field(init=False)
    digest_reads: DigestReads = field(init=False)
    # --- end digests ---

    def uow(self) -> SqlUnitOfWork:
        """A new unit of work (one transaction)."""
        return SqlUnitOfWork(self.session_factory)

    def deliveries(self) -> SqlDeliveryStore:
        """The delivery ledger as the digest sending engine uses it."""
        return SqlDeliveryStore(self.session_factory)

    def dependencies(self) -> dict[str, Any]:
        """What handlers may ask for, by parameter name."""
        return {
            "settings": self.settings,
            "now": self.now,
            "uow": self.uow,
            "tasks": self.tasks,
            "digests": self.digests,  # digests (issue 9, arch-digests)
            "container": self,  # transitional: handlers still being moved onto their ports
        }

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()


def inject_dependencies(handler: Handler, dependencies: Mapping[str, Any]) -> BoundHandler:
    """Bind the keyword parameters `handler` names (after the event) from `dependencies`.

    Raises ConfigError naming the handler and the parameter when a dependency does not exist, so
    a typo fails at start, not at the first event.
    """
    params = list(inspect.signature(handler).parameters.values())[1:]
    missing = [p.name for p in params if p.name not in dependencies]
    if missing:
        raise ConfigError(f"handler {handler.__qualname__} asks for unknown dependencies {missing}")
    return partial(handler, **{p.name: dependencies[p.name] for p in params})


def bootstrap(
    settings: Settings | None = None, *, migrate: bool = False, check_schema: bool = False
) -> Container:
    """Build the container: validate settings, create the engine and the Celery app, bind handlers.

    Nothing connects here except `migrate=True`, which applies pending migrations (the embedded
    `serve` does this; production runs `syndicate db upgrade` as its own step), and
    `check_schema=True`, which raises ConfigError when migrations are pending.
    """
    settings = settings or load_settings()
    settings.require_secrets()
    engine = db.make_engine(settings.effective_database_url)
    if migrate:
        db.upgrade(engine)
    elif check_schema and not db.is_current(engine):
        raise ConfigError(
            f"the database at DATABASE_URL={engine.url.render_as_string(hide_password=True)} is not "
            "at the newest schema; run `syndicate db upgrade` first"
        )
    celery = make_celery(settings)
    container = Container(
        settings=settings,
        engine=engine,
        session_factory=db.make_session_factory(engine),
        celery=celery,
        tasks=CeleryTaskQueue(celery, settings.celery_queue),
    )
    # --- digests (issue 9, arch-digests) ---
    # One rate counter (Redis-shared when REDIS_URL is set) for subscribe limits and the send
    # pace, one Mailer (DKIM signer + pace) for digests and confirmations, one rendered-edition
    # cache, one link signer. `now` is read late: tests and the CLI may replace container.now.
    def digest_now() -> datetime:
        return container.now()

    counter = make_counter(settings.redis_url)
    signer = Signer(settings.resolved_secret_key)
    container.mailer = build_mailer(settings, SendPace(counter, settings.mail_send_rate))
    container.digest_uow = partial(SqlDigestUnitOfWork, container.session_factory)
    ledger = SqlDeliveryStore(container.session_factory)
    fanout = Fanout(ledger, container.mailer, TemplateCache(), signer, settings, digest_now)
    container.digests = DigestService(ledger, SqlEditionStore(container.session_factory),
                                      container.digest_uow, tasks=container.tasks, fanout=fanout,
                                      settings=settings, now=digest_now)
    container.optin = OptIn(container.digest_uow, container.mailer, counter, signer, settings, digest_now)
    container.bounce_reports = BounceReports(SqlBounceStore(container.session_factory),
                                             settings.resolved_secret_key, settings.mail_domain, digest_now)
    container.digest_reads = DigestReads(container.session_factory)
    # --- end digests ---
    deps = container.dependencies()
    container.handlers = {
        event_type: [inject_dependencies(h, deps) for h in handlers]
        for event_type, handlers in HANDLERS.items()
    }
    celery.container = container
    return container


def prepare_worker_process(container: Container) -> None:
    """In a process about to run a Celery worker: drop pooled connections in each forked child."""
    from celery.signals import worker_process_init

    def after_fork(**_: Any) -> None:
        container.engine.dispose(close=False)

    worker_process_init.connect(after_fork, weak=False)


def configure_logging(level: int = logging.INFO) -> None:
    """Plain one-line logs on stderr."""
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
