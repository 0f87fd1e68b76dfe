"""Named locks held across every process that uses the database."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import Connection, Engine, text

from syndicate.storage.db import engine_of


def lock_key(name: str) -> int:
    """The signed 64-bit advisory-lock key of `name` (stable across processes and releases)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


@contextmanager
def exclusive(bind: Engine | Connection, name: str) -> Iterator[None]:
    """Hold the lock `name` for the block, waiting for any other holder to release it.

    On PostgreSQL this is a session advisory lock on a connection of its own (in autocommit, so no
    transaction stays open while the block runs); it is released at the end of the block, or by
    the server when the holder's connection dies. SQLite databases live on one host, where
    callers use file locks, so there it does nothing.
    """
    engine = engine_of(bind)
    if engine.dialect.name != "postgresql":
        yield
        return
    key = lock_key(name)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


class AdvisoryLocks:
    """The feeds' `Locks` port on the database: `exclusive` on one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def hold(self, name: str) -> AbstractContextManager[None]:
        """Hold the lock `name` for the block, waiting while another holder has it."""
        return exclusive(self.engine, name)
