"""Editions in SQL: the articles a list takes, and an edition stored with its queued deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, case, func, insert, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from syndicate.digests.ports import MailingList, NewEdition
from syndicate.digests.states import DeliveryState, Frequency, SubscriberStatus, SubscriptionStatus
from syndicate.domain.articles import Article
from syndicate.domain.stories import Story, Version
from syndicate.errors import NotFound
from syndicate.storage.articles import ArticleQueries, to_article
from syndicate.storage.digest_models import (
    DeliveryRow,
    EditionRow,
    MailingListRow,
    SubscriberRow,
    SubscriptionRow,
)
from syndicate.storage.models import ArticleCategoryRow, ArticleRow, UTCDateTime
from syndicate.storage.stories import linked_articles


def story_json(story: Story) -> dict[str, Any]:
    """How an edition stores one story: its key and its versions as [article_id, language]."""
    return {"key": story.key, "versions": [[v.article_id, v.language] for v in story.versions]}


def story_of(data: dict[str, Any]) -> Story:
    """The story `story_json` stored."""
    return Story(str(data["key"]), tuple(Version(int(i), str(lang)) for i, lang in data["versions"]))


def edition_and_list(session: Session, edition_id: int) -> tuple[EditionRow, MailingListRow]:
    """An edition and the list it belongs to; raises NotFound naming the edition id."""
    row = session.get(EditionRow, edition_id)
    if row is None:
        raise NotFound("edition", edition_id)
    lst = session.get(MailingListRow, row.list_id)
    assert lst is not None  # editions are deleted with their list (ON DELETE CASCADE)
    return row, lst


def edition_articles(session: Session, article_ids: Sequence[int]) -> list[Article]:
    """The edition's articles (by their ids) in the order they were chosen."""
    rows = session.scalars(select(ArticleRow).where(ArticleRow.id.in_(article_ids)).options(
        selectinload(ArticleRow.categories)))
    by_id = {r.id: to_article(r) for r in rows}
    return [by_id[i] for i in article_ids if i in by_id]


def matching_articles(
    session: Session, lst: MailingList, *, since: datetime, until: datetime,
    article_ids: Sequence[int] | None, limit: int,
) -> list[Article]:
    """Articles that became public in (since, until] and pass the list's language and category
    filters.

    An article became public at the later of its date line and the moment it was stored: a late
    import with a past `published_at` goes into the next edition instead of falling before its
    window. Category filtering is a semi-join, so an article in two matching categories appears
    once.
    """
    # An article scheduled after `until` is in no edition yet, even when named by id.
    stmt = select(ArticleRow).options(selectinload(ArticleRow.categories)).where(
        ArticleRow.unpublished_at.is_(None), ArticleRow.published_at <= until)
    if article_ids is not None:
        stmt = stmt.where(ArticleRow.id.in_(article_ids))
    else:
        became_public = case((ArticleRow.created_at > ArticleRow.published_at, ArticleRow.created_at),
                             else_=ArticleRow.published_at)
        stmt = stmt.where(became_public > since)
    if lst.language:
        # The list's language is a range: 'ru' takes 'ru' and 'ru-RU' (as article_matches does).
        wanted, language = lst.language.lower(), func.lower(ArticleRow.language)
        stmt = stmt.where(or_(language == wanted, language.like(f"{wanted}-%")))
    if lst.categories:
        stmt = stmt.where(ArticleRow.id.in_(
            select(ArticleCategoryRow.article_id).where(ArticleCategoryRow.category.in_(lst.categories))
        ))
    stmt = stmt.order_by(ArticleRow.published_at.desc(), ArticleRow.id.desc()).limit(limit)
    return [to_article(r) for r in session.scalars(stmt)]


def add_deliveries(session: Session, edition_id: int, lst: MailingList, frequency: Frequency,
                   *, now: datetime, epoch: str | None = None) -> int:
    """Insert one queued delivery per active subscriber receiving this frequency; returns how many.

    With `epoch`, each row is stored marked enqueued under it at `now` (see EditionStore.add).
    """
    when = literal(now, UTCDateTime())
    enqueued_at = when if epoch is not None else literal(None, UTCDateTime())
    recipients = (
        select(
            literal(edition_id), SubscriberRow.id, literal(str(DeliveryState.QUEUED)), literal(0),
            when, when, enqueued_at, literal(epoch, String(40)),
        )
        .select_from(SubscriptionRow)
        .join(SubscriberRow, SubscriberRow.id == SubscriptionRow.subscriber_id)
        .where(and_(
            SubscriptionRow.list_id == lst.id,
            SubscriptionRow.status == SubscriptionStatus.ACTIVE,
            SubscriberRow.status == SubscriberStatus.ACTIVE,
            func.coalesce(SubscriptionRow.frequency, str(lst.frequency)) == str(frequency),
        ))
        .order_by(SubscriberRow.id)
    )
    stmt = insert(DeliveryRow).from_select(
        ["edition_id", "subscriber_id", "state", "attempts", "next_attempt_at", "updated_at",
         "enqueued_at", "enqueued_epoch"], recipients
    )
    session.execute(stmt)
    return int(session.scalar(select(func.count()).select_from(DeliveryRow).where(
        DeliveryRow.edition_id == edition_id)) or 0)


class SqlEditionStore:
    """EditionStore over SQLAlchemy sessions from `session_factory` (one transaction per call)."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def exists(self, edition_id: int) -> bool:
        """See EditionStore.exists."""
        with self.session_factory() as session:
            return session.get(EditionRow, edition_id) is not None

    def find(self, list_id: int, dedupe_key: str) -> int | None:
        """See EditionStore.find."""
        with self.session_factory() as session:
            return session.scalar(select(EditionRow.id).where(
                EditionRow.list_id == list_id, EditionRow.dedupe_key == dedupe_key))

    def previous_until(self, list_id: int, frequency: Frequency) -> datetime | None:
        """See EditionStore.previous_until."""
        with self.session_factory() as session:
            return session.scalar(select(func.max(EditionRow.until)).where(
                EditionRow.list_id == list_id, EditionRow.frequency == frequency))

    def matching_articles(
        self, lst: MailingList, *, since: datetime, until: datetime,
        article_ids: Sequence[int] | None, limit: int,
    ) -> list[Article]:
        """See EditionStore.matching_articles."""
        with self.session_factory() as session:
            return matching_articles(session, lst, since=since, until=until, article_ids=article_ids,
                                     limit=limit)

    def add(self, edition: NewEdition, lst: MailingList, *, now: datetime,
            epoch: str | None = None) -> int | None:
        """See EditionStore.add (the edition and its deliveries in one transaction)."""
        row = EditionRow(
            list_id=edition.list_id, frequency=str(edition.frequency), dedupe_key=edition.dedupe_key,
            since=edition.since, until=edition.until, article_ids=list(edition.article_ids),
            subject=edition.subject, created_at=now,
            stories=[story_json(s) for s in edition.stories] if edition.stories else None,
        )
        with self.session_factory() as session:
            try:
                session.add(row)
                session.flush()
            except IntegrityError:
                # Another caller stored this dedupe key first: that edition stands.
                session.rollback()
                return session.scalar(select(EditionRow.id).where(
                    EditionRow.list_id == edition.list_id, EditionRow.dedupe_key == edition.dedupe_key))
            if add_deliveries(session, row.id, lst, edition.frequency, now=now, epoch=epoch) == 0:
                session.rollback()
                return None
            session.commit()
            return row.id

    def article(self, article_id: int) -> Article | None:
        """See EditionStore.article."""
        with self.session_factory() as session:
            return ArticleQueries(session).by_id(article_id)

    def linked(self, articles: Sequence[Article]) -> list[Article]:
        """See EditionStore.linked."""
        with self.session_factory() as session:
            return linked_articles(session, articles)
