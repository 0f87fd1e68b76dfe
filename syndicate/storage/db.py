"""Engine, sessions and migrations for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy import exc as sa_exc

from syndicate.errors import DatabaseUnavailable
from syndicate.storage.revisions import MIGRATIONS_DIR, is_head, refuse_unknown

log = logging.getLogger(__name__)

# The ORM is imported where sessions are made, not here: a command that reads through plain
# SQL (`articles list`) starts without it (tests/e2e/test_cli_startup.py).
if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.orm import Session, sessionmaker

    #: Sessions as bootstrap hands them to the SQL adapters (the one place outside storage/
    #: that names these types imports them from here).
    SessionFactory = sessionmaker[Session]

__all__ = ["Engine", "as_unavailable", "make_engine", "make_session_factory"]


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout for its workers."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL never corrupts the file; a power cut may lose the last commits.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def make_recording_engine(engine: Engine) -> Engine | None:
    """For PostgreSQL, a second pool for the ledger's writes of the sending loop, else None.

    A worker process's group writer (delivery_store) holds one of its connections while its
    senders run, opened when first needed. Its connections autocommit (one statement is one
    transaction, one round trip) and commit without waiting for the disk
    (`synchronous_commit = off`): a dead worker loses nothing the server has; only a crash of
    the database server can lose its last few hundred milliseconds.
    They also plan a prepared statement once (`plan_cache_mode = force_generic_plan`): psycopg
    prepares the outcome statement after its fifth run, but PostgreSQL's default went on
    planning it again for each run's parameters, two fifths of its time in the database (about
    110 of 270 us per run in a 20,000-reader send). Its one sound plan is on the primary key
    whatever the parameters. These settings stay on these connections, never on the pool the
    rest of syndicate uses.
    """
    if engine.dialect.name != "postgresql":
        return None
    return create_engine(engine.url, pool_size=2, max_overflow=2, isolation_level="AUTOCOMMIT",
                         pool_pre_ping=True, connect_args={
                             "options": "-c synchronous_commit=off -c plan_cache_mode=force_generic_plan"})


class SessionUnitOfWork:
    """One session, one transaction, the stores a subclass puts on it (`_open`).

    Not re-entrant: make one per use. Leaving without `commit()` rolls back.
    """

    session: Session

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory

    def _open(self, session: Session) -> None:
        """Build the stores on `session` (subclasses)."""

    def __enter__(self) -> Self:
        self.session = self._factory()
        self._open(self.session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        """Commit the transaction."""
        self.session.commit()


def engine_of(bind: Engine | Connection) -> Engine:
    """The engine behind a session's bind (an engine, or a connection of one)."""
    return bind if isinstance(bind, Engine) else bind.engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (objects are read after the write)."""
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config() -> Config:
    # Alembic is imported only when migrations run: reading commands start without it.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def upgrade(engine: Engine, target: str = "head") -> list[str]:
    """Apply every migration not yet applied (up to `target`); returns those applied, oldest first."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = _alembic_config()
    script = ScriptDirectory.from_config(cfg)
    with engine.begin() as conn:
        refuse_unknown(_applied(conn))
        before = MigrationContext.configure(conn).get_current_revision()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
        after = MigrationContext.configure(conn).get_current_revision()
    if before == after:
        return []
    revs = list(reversed([r.revision for r in script.iterate_revisions(after, before)]))
    # One line for the whole upgrade (Alembic's own INFO lines are quieted by syndicate.logs).
    log.info("database migrated from %s to %s (%s)", before or "empty", after, ", ".join(revs),
             extra={"from_revision": before, "to_revision": after, "applied": revs})
    return revs


def _applied(conn: Connection) -> set[str]:
    if not inspect(conn).has_table("alembic_version"):
        return set()
    return {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}


def is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration (one query; Alembic is not imported).

    Raises ConfigError when it is at a migration this version does not have (a newer release
    upgraded it): neither applying migrations nor using it can go well then.
    """
    with engine.connect() as conn:
        return is_head(_applied(conn))


def ping(engine: Engine) -> None:
    """Run a trivial query; raises when the database does not answer."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def as_unavailable(exc: BaseException) -> DatabaseUnavailable | None:
    """The DatabaseUnavailable that `exc` amounts to, or None when it is not an outage.

    An outage is a failure to connect or a connection lost mid-statement (SQLAlchemy's
    OperationalError/InterfaceError, or a DBAPI error that invalidated the connection); a
    constraint violation or a bad statement is not one.
    """
    if isinstance(exc, DatabaseUnavailable):
        return exc
    lost = isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
    if not (lost or isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)):
        return None
    detail = str(getattr(exc, "orig", None) or exc)
    if isinstance(exc, sa_exc.OperationalError) and "database is locked" in detail:
        return None  # SQLite contention after its busy timeout: not an outage
    return DatabaseUnavailable.unreachable(detail)
