"""Column types shared by the ORM tables and the queries that run without the ORM, and the
array literal that hands PostgreSQL many ids in one parameter.

SQLAlchemy Core only: a command that reads through plain SQL (`articles list`) imports this, not
the ORM and its table classes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Integer, TypeDecorator
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no zone support) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; store aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Integer ids that are BIGINT on PostgreSQL yet autoincrement as INTEGER PRIMARY KEY on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def int_array(values: Iterable[int]) -> str:
    """A PostgreSQL array literal of integers ('{1,2,3}'), for `CAST(:p AS bigint[])`.

    psycopg dumps a list parameter element by element in Python, with a quoting check on each:
    for the hundreds of ids of a claim or a group of outcomes that cost more than the
    statement's own work.
    """
    return "{" + ",".join(map(str, map(int, values))) + "}"
