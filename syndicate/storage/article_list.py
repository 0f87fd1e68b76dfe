"""The article list of `syndicate articles list`, in plain SQL through SQLAlchemy Core.

The same articles, in the same order, as `SqlArticleReader.newest` gives (tests check both
against each other), without the ORM: that command is a short one, and the ORM with its table
classes was about a fifth of its start-up time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import groupby

from sqlalchemy import Engine, String, bindparam, text

from syndicate.domain.articles import ListedArticle
from syndicate.storage.columns import UTCDateTime

#: Released, not unpublished, newest first: publication time, then id (as `newest`).
_ARTICLES = text("""
SELECT id, guid, slug, title, published_at, updated_at, language FROM articles
WHERE unpublished_at IS NULL AND published_at <= :now
ORDER BY published_at DESC, id DESC
""").bindparams(bindparam("now", type_=UTCDateTime())).columns(
    published_at=UTCDateTime(), updated_at=UTCDateTime(), language=String())

#: The categories of the same articles, in their stored order.
_CATEGORIES = text("""
SELECT c.article_id, c.category FROM article_categories c JOIN articles a ON a.id = c.article_id
WHERE a.unpublished_at IS NULL AND a.published_at <= :now
ORDER BY c.article_id, c.position
""").bindparams(bindparam("now", type_=UTCDateTime()))


class SqlArticleList:
    """Released articles for a listing, read in one transaction (two statements)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def newest(self, *, now: datetime | None = None, categories: bool = True) -> Iterator[ListedArticle]:
        """Every released, published article, newest first; `now` (aware) decides what is
        released (default: the present). Without `categories` each has none (one query less)."""
        at = now or datetime.now(UTC)
        by_article: dict[int, tuple[str, ...]] = {}
        with self.engine.connect() as conn:
            if categories:
                by_article = {article_id: tuple(c for _, c in rows) for article_id, rows
                              in groupby(conn.execute(_CATEGORIES, {"now": at}), key=lambda r: r[0])}
            rows = conn.execute(_ARTICLES, {"now": at}).all()
        for id_, guid, slug, title, published_at, updated_at, language in rows:
            yield ListedArticle(id_, guid, slug, title, published_at, updated_at, language,
                                by_article.get(id_, ()))
