"""The feeds' own tables in SQL: archive pages and memberships, and the feed unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from syndicate.errors import FeedNotFound
from syndicate.feeds.model import FeedSpec
from syndicate.feeds.ports import ArchivePage
from syndicate.storage.db import SessionUnitOfWork
from syndicate.storage.feed_articles import SqlFeedArticles
from syndicate.storage.feed_models import FeedArchivePageRow, FeedMembershipRow


def _page(row: FeedArchivePageRow) -> ArchivePage:
    return ArchivePage(
        number=row.page,
        first=(row.first_published_at, row.first_id),
        last=(row.last_published_at, row.last_id),
    )


class SqlArchivePages:
    """ArchivePages on `feed_archive_pages`, on one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def newest(self, spec: FeedSpec) -> ArchivePage | None:
        """The feed's newest page, or None when it has none yet."""
        stmt = (
            select(FeedArchivePageRow)
            .where(FeedArchivePageRow.feed_key == spec.key)
            .order_by(FeedArchivePageRow.page.desc())
            .limit(1)
        )
        row = self.session.scalars(stmt).one_or_none()
        return None if row is None else _page(row)

    def count(self, spec: FeedSpec) -> int:
        """How many pages the feed has."""
        stmt = select(func.max(FeedArchivePageRow.page)).where(FeedArchivePageRow.feed_key == spec.key)
        return int(self.session.scalar(stmt) or 0)

    def numbered(self, spec: FeedSpec, numbers: set[int] | None = None) -> list[ArchivePage]:
        """The feed's pages (only `numbers` when given), oldest first."""
        stmt = select(FeedArchivePageRow).where(FeedArchivePageRow.feed_key == spec.key)
        if numbers is not None:
            stmt = stmt.where(FeedArchivePageRow.page.in_(sorted(numbers)))
        return [_page(r) for r in self.session.scalars(stmt.order_by(FeedArchivePageRow.page))]

    def ending_from(self, spec: FeedSpec, moment: datetime, limit: int) -> list[ArchivePage]:
        """Up to `limit` pages whose last key is published at or after `moment`, by last key."""
        stmt = (
            select(FeedArchivePageRow)
            .where(FeedArchivePageRow.feed_key == spec.key, FeedArchivePageRow.last_published_at >= moment)
            .order_by(FeedArchivePageRow.last_published_at, FeedArchivePageRow.last_id)
            .limit(limit)
        )
        return [_page(r) for r in self.session.scalars(stmt)]

    def add(self, spec: FeedSpec, page: ArchivePage, item_count: int) -> None:
        """Record a newly cut page (flushed, so the next reads of this session see it)."""
        self.session.add(
            FeedArchivePageRow(
                feed_key=spec.key,
                page=page.number,
                first_published_at=page.first[0],
                first_id=page.first[1],
                last_published_at=page.last[0],
                last_id=page.last[1],
                item_count=item_count,
            )
        )
        self.session.flush()


class SqlMemberships:
    """Memberships on `feed_memberships`, on one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def of(self, article_id: int) -> list[FeedSpec]:
        """The feeds the article was in at its last rebuild (keys no longer valid are skipped)."""
        stmt = select(FeedMembershipRow.feed_key).where(FeedMembershipRow.article_id == article_id)
        specs = []
        for key in self.session.scalars(stmt):
            try:
                specs.append(FeedSpec.from_key(key))
            except FeedNotFound:
                continue
        return specs

    def replace(self, article_id: int, specs: Sequence[FeedSpec]) -> None:
        """Record the feeds the article is in now (replacing the previous record)."""
        self.session.execute(delete(FeedMembershipRow).where(FeedMembershipRow.article_id == article_id))
        self.session.add_all(FeedMembershipRow(article_id=article_id, feed_key=s.key) for s in specs)
        self.session.flush()


class SqlFeedUnitOfWork(SessionUnitOfWork):
    """FeedUnitOfWork over SQLAlchemy; not re-entrant, make one per use."""

    articles: SqlFeedArticles
    archive: SqlArchivePages
    memberships: SqlMemberships

    def _open(self, session: Session) -> None:
        self.articles = SqlFeedArticles(session)
        self.archive = SqlArchivePages(session)
        self.memberships = SqlMemberships(session)
