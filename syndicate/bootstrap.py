"""The one place where syndicate is wired together, for the API, the CLI and the worker alike."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from celery import Celery
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from syndicate.broker import CeleryEventPublisher, configure_celery
from syndicate.errors import ConfigError
from syndicate.settings import Settings, load_settings
from syndicate.storage import db
from syndicate.storage.delivery_store import SqlDeliveryStore
from syndicate.storage.uow import SqlUnitOfWork


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass
class Container:
    """Everything a request, a command or a task needs; built once per process by bootstrap()."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    celery: Celery
    publisher: CeleryEventPublisher
    now: Callable[[], datetime] = field(default=utc_now)

    def uow(self) -> SqlUnitOfWork:
        """A new unit of work (one transaction)."""
        return SqlUnitOfWork(self.session_factory)

    def deliveries(self) -> SqlDeliveryStore:
        """The delivery ledger as the digest sending engine uses it."""
        return SqlDeliveryStore(self.session_factory)

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()


def bootstrap(
    settings: Settings | None = None, *, migrate: bool = False, check_schema: bool = False
) -> Container:
    """Build the container: validate settings, create the engine, configure Celery.

    Nothing connects here except `migrate=True`, which applies pending migrations (the embedded
    `serve` does this; production runs `syndicate db upgrade` as its own step), and
    `check_schema=True`, which raises ConfigError when migrations are pending.
    """
    from worker.app import app, use_container

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
    configure_celery(app, settings)
    container = Container(
        settings=settings,
        engine=engine,
        session_factory=db.make_session_factory(engine),
        celery=app,
        publisher=CeleryEventPublisher(app, settings.celery_queue),
    )
    use_container(container)
    return container


def configure_logging(level: int = logging.INFO) -> None:
    """Plain one-line logs on stderr."""
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
