"""The feeds' article reads in SQL (`feeds.ports.FeedArticles`), bounded by the feed length.

Every query orders by (published_at, id) and has a LIMIT or a closed key range, so it walks
ix_articles_published / ix_articles_language_published (and the article_categories primary key
for a category) instead of sorting every stored article.
"""

from __future__ import annotations

from sqlalchemy import Select, exists, select, tuple_
from sqlalchemy.orm import Session, selectinload

from syndicate.domain.articles import Article
from syndicate.feeds.model import FeedSpec, Key, Scope
from syndicate.storage.articles import public_now, to_article
from syndicate.storage.models import ArticleCategoryRow, ArticleRow
from syndicate.storage.stories import with_translations


def _scoped(spec: FeedSpec) -> Select[ArticleRow]:
    # Unpublished articles leave every feed (subscription and archive pages alike); scheduled
    # ones enter none before their time.
    stmt = select(ArticleRow).where(ArticleRow.unpublished_at.is_(None), public_now())
    if spec.scope is Scope.CATEGORY:
        stmt = stmt.where(
            exists().where(
                ArticleCategoryRow.article_id == ArticleRow.id,
                ArticleCategoryRow.category == spec.value,
            )
        )
    elif spec.scope is Scope.LANGUAGE:
        stmt = stmt.where(ArticleRow.language == spec.value)
    return stmt


def _load(session: Session, stmt: Select[ArticleRow]) -> list[Article]:
    """The articles, each with its story's other published languages (Atom hreflang alternates)."""
    rows = session.scalars(stmt.options(selectinload(ArticleRow.categories)))
    return with_translations(session, [to_article(r) for r in rows])


class SqlFeedArticles:
    """FeedArticles on a SQLAlchemy session (the unit of work owns the transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def newest(self, spec: FeedSpec, limit: int) -> list[Article]:
        """The `limit` newest articles of the feed, newest first."""
        stmt = _scoped(spec).order_by(ArticleRow.published_at.desc(), ArticleRow.id.desc()).limit(limit)
        return _load(self.session, stmt)

    def keys_after(self, spec: FeedSpec, after: Key | None, limit: int) -> list[Key]:
        """Keys of up to `limit` articles strictly after `after` (all when None), oldest first."""
        stmt = _scoped(spec).with_only_columns(ArticleRow.published_at, ArticleRow.id)
        if after is not None:
            stmt = stmt.where(tuple_(ArticleRow.published_at, ArticleRow.id) > tuple_(*after))
        stmt = stmt.order_by(ArticleRow.published_at.asc(), ArticleRow.id.asc()).limit(limit)
        return [(at, int(n)) for at, n in self.session.execute(stmt)]

    def between(self, spec: FeedSpec, first: Key | None, last: Key) -> list[Article]:
        """Articles with first <= key <= last (no lower bound when None), newest first."""
        key = tuple_(ArticleRow.published_at, ArticleRow.id)
        stmt = _scoped(spec).where(key <= tuple_(*last))
        if first is not None:
            stmt = stmt.where(key >= tuple_(*first))
        stmt = stmt.order_by(ArticleRow.published_at.desc(), ArticleRow.id.desc())
        return _load(self.session, stmt)

    def has_any(self, spec: FeedSpec) -> bool:
        """True when at least one article belongs to the feed."""
        return self.session.scalar(_scoped(spec).with_only_columns(ArticleRow.id).limit(1)) is not None

    def get(self, article_id: int) -> Article | None:
        """One article with its categories, or None when it does not exist (deleted)."""
        row = self.session.get(ArticleRow, article_id, options=[selectinload(ArticleRow.categories)])
        return None if row is None else to_article(row)

    def categories(self) -> list[str]:
        """Every category some stored article (published or not) has, each once."""
        return list(self.session.scalars(select(ArticleCategoryRow.category).distinct()))

    def languages(self) -> list[str]:
        """Every language some stored article (published or not) has, each once."""
        return list(self.session.scalars(select(ArticleRow.language).distinct()))
