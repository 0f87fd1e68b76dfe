"""The Telemetry port on the `runtime_stats` table: counters, gauges and heartbeats by name.

One row per name, shared by every process, so a scrape of any process reports the same numbers.
Heartbeats are stored as `seen:<component>` with the time in `updated_at`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from syndicate.storage.models import RuntimeStatRow

log = logging.getLogger(__name__)
SEEN = "seen:"


class SqlTelemetry:
    """Telemetry in the database; each record is one short transaction of its own."""

    def __init__(self, session_factory: sessionmaker[Session], now: Callable[[], datetime]) -> None:
        self.session_factory = session_factory
        self.now = now

    def count(self, name: str, n: int = 1) -> None:
        """See Telemetry.count."""
        if n:
            self._write(name, float(n), add=True)

    def gauge(self, name: str, value: float) -> None:
        """See Telemetry.gauge."""
        self._write(name, float(value), add=False)

    def seen(self, component: str) -> None:
        """See Telemetry.seen."""
        self._write(SEEN + component, 1.0, add=False)

    def last_seen(self, component: str) -> datetime | None:
        """When `component` last reported in, or None if never."""
        with self.session_factory() as session:
            return session.scalar(select(RuntimeStatRow.updated_at)
                                  .where(RuntimeStatRow.name == SEEN + component))

    def _write(self, name: str, value: float, *, add: bool) -> None:
        now = self.now()
        new_value = RuntimeStatRow.value + value if add else value
        try:
            # Update first; insert when absent; a concurrent insert of the same name loses the
            # race with IntegrityError and then updates the row the other process created.
            for _ in range(2):
                with self.session_factory() as session:
                    result = session.execute(update(RuntimeStatRow).where(RuntimeStatRow.name == name)
                                             .values(value=new_value, updated_at=now))
                    changed = getattr(result, "rowcount", 0)
                    if not changed:
                        session.add(RuntimeStatRow(name=name, value=value, updated_at=now))
                    try:
                        session.commit()
                        return
                    except IntegrityError:
                        session.rollback()
        except SQLAlchemyError as exc:
            log.warning("runtime stat %r not recorded: %s", name, exc)
