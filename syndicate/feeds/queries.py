"""SQL reads of the feeds: bounded, index-ordered queries whose cost follows the feed length.

Every query orders by (published_at, id) and has a LIMIT or a closed key range, so it walks
ix_articles_published / ix_articles_language_published (and the article_categories primary key
for a category) instead of sorting every stored article.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, delete, exists, select, tuple_
from sqlalchemy.orm import Session, selectinload

from syndicate.domain.articles import Article
from syndicate.errors import FeedNotFound
from syndicate.feeds.model import SITE, FeedSpec, Scope, feed_spec
from syndicate.storage.articles import to_article
from syndicate.storage.feed_models import FeedMembershipRow
from syndicate.storage.models import ArticleCategoryRow, ArticleRow

Key = tuple[datetime, int]


def _scoped(spec: FeedSpec) -> Select[ArticleRow]:
    # Unpublished articles leave every feed (subscription and archive pages alike).
    stmt = select(ArticleRow).where(ArticleRow.unpublished_at.is_(None))
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
    rows = session.scalars(stmt.options(selectinload(ArticleRow.categories)))
    return [to_article(r) for r in rows]


def key_of(article: Article) -> Key:
    """The ordering key of an article in every feed: (published_at, id)."""
    return (article.published_at, article.id)


class FeedQueries:
    """Read queries for one session."""

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

    def has_articles(self, spec: FeedSpec) -> bool:
        """True when at least one article belongs to the feed."""
        return self.session.scalar(_scoped(spec).with_only_columns(ArticleRow.id).limit(1)) is not None

    def article(self, article_id: int) -> Article | None:
        """One article with its categories, or None when it does not exist (deleted)."""
        row = self.session.get(ArticleRow, article_id, options=[selectinload(ArticleRow.categories)])
        return None if row is None else to_article(row)

    def all_specs(self) -> list[FeedSpec]:
        """Every feed that has articles: the site, each category, each language (full build only)."""
        specs = [SITE]
        categories = self.session.scalars(select(ArticleCategoryRow.category).distinct())
        languages = self.session.scalars(select(ArticleRow.language).distinct())
        for scope, values in ((Scope.CATEGORY, categories), (Scope.LANGUAGE, languages)):
            for value in sorted(set(values)):
                try:
                    specs.append(feed_spec(scope.value, value))
                except FeedNotFound:
                    continue
        return specs

    def memberships(self, article_id: int) -> list[str]:
        """Keys of the feeds the article was in at its last rebuild."""
        stmt = select(FeedMembershipRow.feed_key).where(FeedMembershipRow.article_id == article_id)
        return list(self.session.scalars(stmt))

    def set_memberships(self, article_id: int, keys: Sequence[str]) -> None:
        """Record the feeds the article is in now (replacing the previous record)."""
        self.session.execute(delete(FeedMembershipRow).where(FeedMembershipRow.article_id == article_id))
        self.session.add_all(FeedMembershipRow(article_id=article_id, feed_key=k) for k in keys)
        self.session.flush()
