"""SQL implementation of the article store and the read queries pages and feeds use."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from syndicate.domain.articles import Article, ArticleDraft, Image, legacy_guid, slug_tag
from syndicate.storage.models import ArticleCategoryRow, ArticleRow


def to_article(row: ArticleRow) -> Article:
    """The domain article of a row (categories must be loaded)."""
    return Article(
        id=row.id,
        guid=row.guid,
        slug=row.slug,
        title=row.title,
        summary=row.summary,
        body_html=row.body_html,
        url=row.url,
        published_at=row.published_at,
        updated_at=row.updated_at,
        language=row.language,
        categories=tuple(c.category for c in row.categories),
        authors=tuple(row.authors or ()),
        images=tuple(Image(url=i["url"], alt=i["alt"]) for i in row.images or ()),
        translation_of=row.translation_of,
        unpublished_at=row.unpublished_at,
    )


def public_now() -> ColumnElement[bool]:
    """The condition "released": published_at has come (scheduled articles are hidden until then)."""
    return ArticleRow.published_at <= datetime.now(UTC)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fill(row: ArticleRow, draft: ArticleDraft) -> None:
    if draft.published_at is None:
        raise ValueError("a draft must have published_at resolved before it is stored")
    row.title = draft.title
    row.summary = draft.summary
    row.body_html = draft.body_html
    row.url = draft.url
    row.published_at = draft.published_at
    row.language = draft.language
    row.authors = list(draft.authors)
    row.images = [{"url": i.url, "alt": i.alt} for i in draft.images]
    row.translation_of = draft.translation_of
    row.content_hash = draft.content_hash()
    row.categories = [
        ArticleCategoryRow(category=c, position=n) for n, c in enumerate(draft.categories)
    ]


class SqlArticleStore:
    """ArticleStore on a SQLAlchemy session (the unit of work owns the transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _row_by_guid(self, guid: str) -> ArticleRow | None:
        stmt = (
            select(ArticleRow)
            .where(ArticleRow.guid == guid)
            .options(selectinload(ArticleRow.categories))
        )
        return self.session.scalars(stmt).one_or_none()

    def find_by_guid(self, guid: str) -> tuple[Article, str] | None:
        row = self._row_by_guid(guid)
        return None if row is None else (to_article(row), row.content_hash)

    def find_by_slug_guid(self, authority: str, slug: str) -> tuple[Article, str] | None:
        pattern = _like_escape(slug_tag(authority, 0, slug)).replace(",0000:", ",%:", 1)
        stmt = (
            select(ArticleRow)
            .where(or_(ArticleRow.guid == legacy_guid(slug),
                       ArticleRow.guid.like(pattern, escape="\\")))
            .order_by(ArticleRow.id)
            .limit(1)
            .options(selectinload(ArticleRow.categories))
        )
        row = self.session.scalars(stmt).one_or_none()
        return None if row is None else (to_article(row), row.content_hash)

    def get(self, article_id: int) -> Article | None:
        row = self.session.get(ArticleRow, article_id, options=[selectinload(ArticleRow.categories)])
        return None if row is None else to_article(row)

    def slug_taken(self, slug: str) -> bool:
        return self.session.scalar(select(ArticleRow.id).where(ArticleRow.slug == slug)) is not None

    def add(self, draft: ArticleDraft, *, guid: str, slug: str, now: datetime) -> Article:
        row = ArticleRow(guid=guid, slug=slug, created_at=now)
        _fill(row, draft)
        row.updated_at = draft.updated_at or row.published_at
        self.session.add(row)
        self.session.flush()
        return to_article(row)

    def set_unpublished(self, article_id: int, when: datetime | None) -> Article | None:
        row = self.session.get(ArticleRow, article_id, options=[selectinload(ArticleRow.categories)])
        if row is None:
            return None
        row.unpublished_at = when
        self.session.flush()
        return to_article(row)

    def replace(self, article_id: int, draft: ArticleDraft, *, updated_at: datetime) -> Article:
        row = self.session.get(ArticleRow, article_id, options=[selectinload(ArticleRow.categories)])
        if row is None:
            raise LookupError(f"article id {article_id} vanished during an update")
        # Delete old category rows before inserting the new set (same primary keys may recur).
        row.categories = []
        self.session.flush()
        _fill(row, draft)
        row.updated_at = updated_at
        row.unpublished_at = None
        self.session.flush()
        return to_article(row)


class ArticleQueries:
    """Read-only queries for pages, the API and feeds."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def by_slug(self, slug: str, *, include_unpublished: bool = False) -> Article | None:
        """The public (or, if asked, also unpublished) article with this slug, or None; an
        article scheduled for later is never returned."""
        stmt = select(ArticleRow).where(ArticleRow.slug == slug, public_now()).options(
            selectinload(ArticleRow.categories))
        if not include_unpublished:
            stmt = stmt.where(ArticleRow.unpublished_at.is_(None))
        row = self.session.scalars(stmt).one_or_none()
        return None if row is None else to_article(row)

    def by_id(self, article_id: int) -> Article | None:
        """The article with this id, or None."""
        row = self.session.get(ArticleRow, article_id, options=[selectinload(ArticleRow.categories)])
        return None if row is None else to_article(row)

    def newest(
        self, *, limit: int, offset: int = 0, include_unpublished: bool = False
    ) -> Sequence[Article]:
        """Published articles newest first (publication time, then id); admins see all."""
        stmt = select(ArticleRow)
        if not include_unpublished:
            stmt = stmt.where(ArticleRow.unpublished_at.is_(None), public_now())
        stmt = (
            stmt.order_by(ArticleRow.published_at.desc(), ArticleRow.id.desc())
            .limit(limit)
            .offset(offset)
            .options(selectinload(ArticleRow.categories))
        )
        return [to_article(r) for r in self.session.scalars(stmt)]

    def count(self, *, include_unpublished: bool = False) -> int:
        """How many published (or, for admins, stored) articles there are."""
        stmt = select(func.count()).select_from(ArticleRow)
        if not include_unpublished:
            stmt = stmt.where(ArticleRow.unpublished_at.is_(None), public_now())
        return int(self.session.scalar(stmt) or 0)


class SqlArticleReader:
    """`services.ports.ArticleReader` on the database: each query in a short session of its own."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def by_slug(self, slug: str, *, include_unpublished: bool = False) -> Article | None:
        """The published (or, if asked, also unpublished) article with this slug, or None."""
        with self.session_factory() as session:
            return ArticleQueries(session).by_slug(slug, include_unpublished=include_unpublished)

    def by_id(self, article_id: int) -> Article | None:
        """The article with this id, published or not, or None."""
        with self.session_factory() as session:
            return ArticleQueries(session).by_id(article_id)

    def newest(self, *, limit: int, offset: int = 0, include_unpublished: bool = False) -> Sequence[Article]:
        """Articles newest first (publication time, then id); unpublished ones only if asked."""
        with self.session_factory() as session:
            return ArticleQueries(session).newest(limit=limit, offset=offset,
                                                  include_unpublished=include_unpublished)

    def count(self, *, include_unpublished: bool = False) -> int:
        """How many published (or, with include_unpublished, stored) articles there are."""
        with self.session_factory() as session:
            return ArticleQueries(session).count(include_unpublished=include_unpublished)
