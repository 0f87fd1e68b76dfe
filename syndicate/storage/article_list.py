"""The article list of `syndicate articles list`, read through the database's own driver.

The same articles, in the same order, as `SqlArticleReader.newest` gives (tests check both
against each other, on SQLite and PostgreSQL), without SQLAlchemy: that command is a short one,
and importing SQLAlchemy was about a third of its start-up time (0.2 of 0.6–0.8 s).

DATABASE_URL is SQLAlchemy's URL; psycopg takes the same URL without the `+psycopg` driver name
(libpq's URI syntax, whose query options SQLAlchemy passes on to it unchanged), and SQLite's is a
path after `sqlite:///`, as `db.make_engine` reads it. Times are stored as SQLAlchemy stores
them: `timestamptz` on PostgreSQL, UTC text (`YYYY-MM-DD HH:MM:SS.ffffff`) on SQLite.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any

from syndicate.domain.articles import ListedArticle
from syndicate.errors import ConfigError, DatabaseUnavailable
from syndicate.storage.revisions import is_head

#: Released, not unpublished, newest first: publication time, then id (as `newest`).
_ARTICLES = """
SELECT id, guid, slug, title, published_at, updated_at, language FROM articles
WHERE unpublished_at IS NULL AND published_at <= {now}
ORDER BY published_at DESC, id DESC
"""

#: The categories of the same articles, in their stored order.
_CATEGORIES = """
SELECT c.article_id, c.category FROM article_categories c JOIN articles a ON a.id = c.article_id
WHERE a.unpublished_at IS NULL AND a.published_at <= {now}
ORDER BY c.article_id, c.position
"""

_POSTGRESQL = re.compile(r"^postgresql(\+psycopg)?://")


class _SchemaMissing(Exception):
    """The database file or its alembic_version table does not exist yet."""


class DriverArticleList:
    """Released articles for a listing, read in one transaction (two statements)."""

    def __init__(self, url: str) -> None:
        """`url`: DATABASE_URL as SQLAlchemy reads it; only psycopg and SQLite are known."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if not (self.is_sqlite or _POSTGRESQL.match(url)):
            raise ConfigError(f"DATABASE_URL={url.split('://', 1)[0]}://…: syndicate reads "
                              "PostgreSQL through psycopg (postgresql+psycopg://) or a SQLite file")

    def schema_current(self) -> bool:
        """True when the database is at this release's newest migration; False when it is
        behind or empty (or the SQLite file does not exist). Raises ConfigError for a migration
        this release does not know, DatabaseUnavailable when the server does not answer."""
        try:
            with self._reading() as cur:
                cur.execute("SELECT version_num FROM alembic_version")
                return is_head(row[0] for row in cur.fetchall())
        except _SchemaMissing:
            return False

    def newest(self, *, now: datetime | None = None, categories: bool = True) -> Iterator[ListedArticle]:
        """Every released, published article, newest first; `now` (aware) decides what is
        released (default: the present). Without `categories` each has none (one query less)."""
        at = self._bound(now or datetime.now(UTC))
        by_article: dict[int, tuple[str, ...]] = {}
        with self._reading() as cur:
            if categories:
                cur.execute(self._sql(_CATEGORIES), {"now": at})
                by_article = {article_id: tuple(c for _, c in rows)
                              for article_id, rows in groupby(cur.fetchall(), key=lambda r: r[0])}
            cur.execute(self._sql(_ARTICLES), {"now": at})
            rows = cur.fetchall()
        for id_, guid, slug, title, published_at, updated_at, language in rows:
            yield ListedArticle(id_, guid, slug, title, self._time(published_at),
                                self._time(updated_at), language, by_article.get(id_, ()))

    def _sql(self, statement: str) -> str:
        return statement.format(now=":now" if self.is_sqlite else "%(now)s")

    def _bound(self, at: datetime) -> Any:
        """`at` as the driver compares it with stored times."""
        at = at.astimezone(UTC)
        return at.strftime("%Y-%m-%d %H:%M:%S.%f") if self.is_sqlite else at

    def _time(self, value: Any) -> datetime:
        """A stored time as an aware UTC datetime."""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        """A cursor in a read-only transaction that sees one snapshot; closed afterwards."""
        if self.is_sqlite:
            with self._sqlite() as cur:
                yield cur
        else:
            with self._postgresql() as cur:
                yield cur

    @contextmanager
    def _sqlite(self) -> Iterator[Any]:
        import sqlite3

        path = self.url.split("///", 1)[-1]
        if not path or path == ":memory:" or not Path(path).is_file():
            raise _SchemaMissing(path)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            conn.execute("BEGIN")  # both statements read the same snapshot
            try:
                yield conn.cursor()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    raise _SchemaMissing(str(exc)) from exc
                raise
        finally:
            conn.close()

    @contextmanager
    def _postgresql(self) -> Iterator[Any]:
        import psycopg

        try:
            conn = psycopg.connect(_POSTGRESQL.sub("postgresql://", self.url))
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable.unreachable(str(exc)) from None
        try:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.cursor() as cur:
                yield cur
        except psycopg.errors.UndefinedTable as exc:
            raise _SchemaMissing(str(exc)) from exc
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable.unreachable(str(exc)) from None
        finally:
            conn.close()
