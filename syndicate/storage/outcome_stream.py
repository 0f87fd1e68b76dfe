"""Outcomes written without waiting: the sending loop's OutcomeStream on PostgreSQL.

The selector loop (digests/fanout_loop.py) sends a group of outcomes here and goes on serving
the connections whose messages are not waiting for it; the group's statement runs meanwhile.
It is the statement of the blocking writer (`delivery_ledger.record_many`, one transaction in
autocommit), sent through libpq's asynchronous calls on the psycopg connection's `pgconn`:
psycopg's own API waits for every statement. Each statement is prepared once per connection,
so the connection's `plan_cache_mode` (db.make_recording_engine) plans it once.

A lost connection is dropped and its group handed back unwritten, for the blocking writer,
which waits out an outage. A lost reply leaves it unknown whether the server committed: the
group is then written again, as the blocking writer's retry does.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import Connection, Engine

from syndicate.digests.ports import Recording
from syndicate.storage import delivery_ledger as ledger
from syndicate.storage.db import as_unavailable

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def numbered(statement: str) -> tuple[bytes, list[str]]:
    """`statement` with psycopg's `%(name)s` placeholders as libpq's `$1, $2…`, and the names
    in that order (a name used twice is one parameter)."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    return _PLACEHOLDER.sub(number, statement).encode(), names


class PgOutcomeStream:
    """An OutcomeStream over one connection of the recording engine, held until `close`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._pg: Any = None  # psycopg.pq.PGconn of _conn
        self._prepared: dict[str, tuple[bytes, list[str]]] = {}  # statement -> (name, parameters)
        self._items: list[Recording] | None = None  # the group under way
        self._failed: str | None = None  # its error, when a statement failed (not the link)

    def send(self, items: Sequence[Recording], *, now: datetime) -> list[Recording]:
        """See OutcomeStream.send."""
        assert self._items is None, "one group at a time"
        statement, params = ledger.record_many([(outcome, suppress, now) for outcome, suppress in items])
        try:
            pg = self._connection()
            name, names = self._prepare(pg, statement)
            pg.send_query_prepared(name, [None if params[n] is None else str(params[n]).encode()
                                          for n in names])
        except Exception as exc:
            if not _lost(exc):
                raise
            self._drop()
            return list(items)
        self._items, self._failed = list(items), None
        return []

    def fileno(self) -> int:
        """See OutcomeStream.fileno."""
        return int(self._pg.socket)

    def done(self) -> list[Recording] | None:
        """See OutcomeStream.done."""
        items, pg = self._items, self._pg
        assert items is not None and pg is not None, "no group under way"
        try:
            pg.consume_input()
            while not pg.is_busy():
                result = pg.get_result()
                if result is None:  # the statement's results are all in
                    self._items = None
                    if self._failed is None:
                        return []
                    if pg.status == pq.ConnStatus.BAD:  # e.g. the server shut down mid-statement
                        self._drop()
                        return items
                    raise psycopg.DatabaseError(f"writing outcomes failed: {self._failed}")
                if result.status != pq.ExecStatus.COMMAND_OK:
                    self._failed = result.error_message.decode(errors="replace").strip()
            return None
        except psycopg.OperationalError:
            self._items = None
            self._drop()
            return items

    def close(self) -> None:
        """Return the connection to the pool; one with a group under way is discarded."""
        if self._items is not None or self._conn is None:
            self._items = None
            self._drop()
            return
        conn, self._conn, self._pg, self._prepared = self._conn, None, None, {}
        with contextlib.suppress(Exception):
            conn.close()

    def _connection(self) -> Any:
        if self._pg is None:
            conn = self.engine.connect()
            driver = conn.connection.driver_connection
            assert isinstance(driver, psycopg.Connection)
            # What this DBAPI connection has prepared, kept with it in the pool (`info` follows
            # the connection, not the checkout, and is gone with it).
            self._conn, self._pg = conn, driver.pgconn
            self._prepared = conn.connection.info.setdefault("syndicate_outcomes_prepared", {})
        return self._pg

    def _prepare(self, pg: Any, statement: str) -> tuple[bytes, list[str]]:
        if statement not in self._prepared:
            command, names = numbered(statement)
            name = f"syndicate_outcomes_{len(self._prepared)}".encode()
            result = pg.prepare(name, command)
            if result.status != pq.ExecStatus.COMMAND_OK:
                if pg.status == pq.ConnStatus.BAD:
                    raise psycopg.OperationalError(result.error_message.decode(errors="replace"))
                raise psycopg.DatabaseError(result.error_message.decode(errors="replace"))
            self._prepared[statement] = (name, names)
        return self._prepared[statement]

    def _drop(self) -> None:
        """Discard the connection (lost, or left mid-statement)."""
        conn, self._conn, self._pg, self._prepared = self._conn, None, None, {}
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()
            with contextlib.suppress(Exception):
                conn.close()


def _lost(exc: Exception) -> bool:
    """True for a connection that cannot be made or was lost (an outage)."""
    return isinstance(exc, psycopg.OperationalError) or as_unavailable(exc) is not None
