"""Editions: which articles go to a list now, and one queued delivery row per recipient."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, func, insert, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from syndicate.digests.states import QUEUED
from syndicate.digests.subscribers import ACTIVE
from syndicate.domain.articles import Article
from syndicate.domain.languages import in_language_range
from syndicate.errors import NotFound
from syndicate.storage.articles import to_article
from syndicate.storage.digest_models import (
    DeliveryRow,
    EditionRow,
    MailingListRow,
    SubscriberRow,
    SubscriptionRow,
)
from syndicate.storage.models import ArticleCategoryRow, ArticleRow, UTCDateTime

PERIODS = {"instant": timedelta(days=1), "daily": timedelta(days=1), "weekly": timedelta(days=7)}
MAX_ARTICLES = 200


def matching_articles(
    session: Session, lst: MailingListRow, *, since: datetime, until: datetime,
    article_ids: Sequence[int] | None = None,
) -> list[Article]:
    """Articles published in (since, until] that pass the list's language and category filters.

    Category filtering is a semi-join, so an article in two matching categories appears once.
    """
    stmt = select(ArticleRow).options(selectinload(ArticleRow.categories)).where(
        ArticleRow.unpublished_at.is_(None))
    if article_ids is not None:
        stmt = stmt.where(ArticleRow.id.in_(article_ids))
    else:
        stmt = stmt.where(ArticleRow.published_at > since, ArticleRow.published_at <= until)
    if lst.language:
        # The list's language is a range: 'ru' takes 'ru' and 'ru-RU' (as article_matches does).
        wanted, language = lst.language.lower(), func.lower(ArticleRow.language)
        stmt = stmt.where(or_(language == wanted, language.like(f"{wanted}-%")))
    if lst.categories:
        stmt = stmt.where(ArticleRow.id.in_(
            select(ArticleCategoryRow.article_id).where(ArticleCategoryRow.category.in_(lst.categories))
        ))
    stmt = stmt.order_by(ArticleRow.published_at.desc(), ArticleRow.id.desc()).limit(MAX_ARTICLES)
    return [to_article(r) for r in session.scalars(stmt)]


def previous_until(session: Session, lst: MailingListRow, frequency: str) -> datetime | None:
    """Where the list's previous edition of this frequency stopped, or None."""
    return session.scalar(select(func.max(EditionRow.until)).where(
        EditionRow.list_id == lst.id, EditionRow.frequency == frequency))


def english_subject(lst: MailingListRow, articles: Sequence[Article]) -> str:
    """The subject shown in admin listings (emails use the recipient's language)."""
    if len(articles) == 1:
        return f"{lst.name}: {articles[0].title}"
    return f"{lst.name}: {len(articles)} new articles"


def create_edition(
    session: Session, lst: MailingListRow, *, frequency: str, now: datetime,
    since: datetime | None = None, article_ids: Sequence[int] | None = None,
    dedupe_key: str | None = None,
) -> EditionRow | None:
    """Create an edition and its queued deliveries (the caller commits); None when there is nothing.

    Nothing is created when no article matches or nobody receives this frequency. With a
    dedupe_key an existing edition of that key is returned instead (at-least-once callers).
    """
    if dedupe_key is not None:
        existing = find_edition(session, lst, dedupe_key)
        if existing is not None:
            return existing
    if since is None:
        since = previous_until(session, lst, frequency) or now - PERIODS[frequency]
    articles = matching_articles(session, lst, since=since, until=now, article_ids=article_ids)
    if not articles:
        return None
    edition = EditionRow(
        list_id=lst.id, frequency=frequency, dedupe_key=dedupe_key, since=since, until=now,
        article_ids=[a.id for a in articles], subject=english_subject(lst, articles), created_at=now,
    )
    savepoint = session.begin_nested()
    try:
        session.add(edition)
        session.flush()
    except IntegrityError:
        savepoint.rollback()
        return session.scalar(select(EditionRow).where(
            EditionRow.list_id == lst.id, EditionRow.dedupe_key == dedupe_key))
    recipients = add_deliveries(session, edition, lst, now=now)
    if recipients == 0:
        savepoint.rollback()
        return None
    savepoint.commit()
    return edition


def find_edition(session: Session, lst: MailingListRow, dedupe_key: str) -> EditionRow | None:
    """The list's edition with this dedupe key, or None."""
    return session.scalar(select(EditionRow).where(
        EditionRow.list_id == lst.id, EditionRow.dedupe_key == dedupe_key))


def add_deliveries(session: Session, edition: EditionRow, lst: MailingListRow, *, now: datetime) -> int:
    """Insert one queued delivery per active subscriber receiving this frequency; returns how many."""
    when = literal(now, UTCDateTime())
    recipients = (
        select(
            literal(edition.id), SubscriberRow.id, literal(QUEUED), literal(0), when, when,
        )
        .select_from(SubscriptionRow)
        .join(SubscriberRow, SubscriberRow.id == SubscriptionRow.subscriber_id)
        .where(and_(
            SubscriptionRow.list_id == lst.id,
            SubscriptionRow.status == ACTIVE,
            SubscriberRow.status == ACTIVE,
            func.coalesce(SubscriptionRow.frequency, lst.frequency) == edition.frequency,
        ))
        .order_by(SubscriberRow.id)
    )
    stmt = insert(DeliveryRow).from_select(
        ["edition_id", "subscriber_id", "state", "attempts", "next_attempt_at", "updated_at"], recipients
    )
    session.execute(stmt)
    return int(session.scalar(select(func.count()).select_from(DeliveryRow).where(
        DeliveryRow.edition_id == edition.id)) or 0)


def edition_articles(session: Session, edition: EditionRow) -> list[Article]:
    """The edition's articles in the order they were chosen."""
    rows = session.scalars(select(ArticleRow).where(ArticleRow.id.in_(edition.article_ids)).options(
        selectinload(ArticleRow.categories)))
    by_id = {r.id: to_article(r) for r in rows}
    return [by_id[i] for i in edition.article_ids if i in by_id]


def article_matches(lst: MailingListRow, article: Article) -> bool:
    """True when the article passes the list's language and category filters."""
    if lst.language and not in_language_range(article.language, lst.language):
        return False
    return not lst.categories or bool(set(lst.categories) & set(article.categories))


def edition_and_list(session: Session, edition_id: int) -> tuple[EditionRow, MailingListRow]:
    """An edition and the list it belongs to; raises NotFound naming the edition id."""
    row = session.get(EditionRow, edition_id)
    if row is None:
        raise NotFound("edition", edition_id)
    lst = session.get(MailingListRow, row.list_id)
    assert lst is not None  # editions are deleted with their list (ON DELETE CASCADE)
    return row, lst
