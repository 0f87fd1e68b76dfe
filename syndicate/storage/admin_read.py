"""The admin dashboard's own read model: list growth, deliveries per day, article search, and the
failed deliveries behind the overview's counts.

Each query runs in a short session of its own and returns frozen values. Days are UTC days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from syndicate.digests.states import DeliveryState, SubscriptionStatus
from syndicate.domain.articles import Article
from syndicate.partners.ports import DeliveryStatus
from syndicate.storage.articles import to_article
from syndicate.storage.digest_models import (
    DeliveryRow,
    EditionRow,
    MailingListRow,
    SubscriberRow,
    SubscriptionRow,
)
from syndicate.storage.models import ArticleCategoryRow, ArticleRow
from syndicate.storage.partner_models import PartnerDeliveryRow, PartnerRow

#: What the article filter may ask for; "scheduled" is published with a release time still ahead.
ArticleStatus = Literal["published", "scheduled", "unpublished"]
ARTICLE_STATUSES: tuple[ArticleStatus, ...] = ("published", "scheduled", "unpublished")
FAILED_STATES = (DeliveryState.FAILED, DeliveryState.BOUNCED)


@dataclass(frozen=True)
class ListGrowth:
    """One list's readers now and how many joined lately (subscriptions created, still active)."""

    list_id: int
    slug: str
    name: str
    active: int
    pending: int
    left: int
    joined_7d: int
    joined_30d: int


@dataclass(frozen=True)
class DayCount:
    """Email deliveries of one UTC day: sent, and failed or bounced."""

    day: date
    sent: int
    failed: int


@dataclass(frozen=True)
class FailedDelivery:
    """A failed or bounced delivery with its address and edition, for the failures page."""

    id: int
    edition_id: int
    subject: str
    subscriber_id: int
    email: str
    state: str
    last_reply: str | None
    updated_at: datetime


@dataclass(frozen=True)
class DeadPush:
    """A partner push that gave up, with its partner, for the failures page."""

    id: int
    partner_id: int
    partner: str
    article_id: int
    event_type: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None


@dataclass(frozen=True)
class ArticleFilter:
    """What the articles page asks for; empty fields do not filter."""

    q: str = ""
    language: str = ""
    category: str = ""
    status: ArticleStatus | None = None


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _day(value: object) -> date:
    # SQLite's date() answers text, PostgreSQL's a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


class SqlAdminReads:
    """The admin-only queries (the rest come from the digest, partner and article read models)."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def list_growth(self, now: datetime) -> list[ListGrowth]:
        """Every list with its active, pending and departed readers, and how many of the active
        ones joined in the last 7 and 30 days."""
        s = SubscriptionRow
        active = s.status == SubscriptionStatus.ACTIVE

        def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        stmt = (
            select(MailingListRow.id, MailingListRow.slug, MailingListRow.name,
                   count_if(active), count_if(s.status == SubscriptionStatus.PENDING),
                   count_if(s.status == SubscriptionStatus.UNSUBSCRIBED),
                   count_if(and_(active, s.created_at >= now - timedelta(days=7))),
                   count_if(and_(active, s.created_at >= now - timedelta(days=30))))
            .outerjoin(s, s.list_id == MailingListRow.id)
            .group_by(MailingListRow.id, MailingListRow.slug, MailingListRow.name)
            .order_by(MailingListRow.id)
        )
        with self.session_factory() as session:
            return [ListGrowth(r[0], r[1], r[2], *(int(v) for v in r[3:])) for r in session.execute(stmt)]

    def deliveries_per_day(self, *, until: datetime, days: int) -> list[DayCount]:
        """Sent and failed deliveries per UTC day for the `days` days ending with `until`'s day,
        oldest first, every day present."""
        first = until.date() - timedelta(days=days - 1)
        start = datetime.combine(first, datetime.min.time(), tzinfo=until.tzinfo)
        sent_day = func.date(DeliveryRow.sent_at)
        failed_day = func.date(DeliveryRow.updated_at)
        sent = (select(sent_day, func.count()).where(DeliveryRow.state == DeliveryState.SENT,
                                                     DeliveryRow.sent_at >= start).group_by(sent_day))
        failed = (select(failed_day, func.count()).where(DeliveryRow.state.in_(FAILED_STATES),
                                                         DeliveryRow.updated_at >= start)
                  .group_by(failed_day))
        with self.session_factory() as session:
            sent_by = {_day(d): int(n) for d, n in session.execute(sent)}
            failed_by = {_day(d): int(n) for d, n in session.execute(failed)}
        days_list = [first + timedelta(days=i) for i in range(days)]
        return [DayCount(d, sent_by.get(d, 0), failed_by.get(d, 0)) for d in days_list]

    def failed_deliveries(self, *, since: datetime, limit: int, offset: int = 0) -> list[FailedDelivery]:
        """Deliveries that failed or bounced since `since`, newest first (the overview's count)."""
        stmt = (
            select(DeliveryRow, EditionRow.subject, SubscriberRow.email)
            .join(EditionRow, EditionRow.id == DeliveryRow.edition_id)
            .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
            .where(DeliveryRow.state.in_(FAILED_STATES), DeliveryRow.updated_at >= since)
            .order_by(DeliveryRow.updated_at.desc(), DeliveryRow.id.desc()).limit(limit).offset(offset)
        )
        with self.session_factory() as session:
            return [FailedDelivery(d.id, d.edition_id, subject, d.subscriber_id, email, d.state,
                                   d.last_reply, d.updated_at)
                    for d, subject, email in session.execute(stmt)]

    def dead_pushes(self, *, since: datetime, limit: int) -> list[DeadPush]:
        """Partner pushes that gave up since `since`, newest first (the overview's count)."""
        d = PartnerDeliveryRow
        stmt = (select(d, PartnerRow.name).join(PartnerRow, PartnerRow.id == d.partner_id)
                .where(d.status == DeliveryStatus.DEAD.value, d.last_attempt_at >= since)
                .order_by(d.last_attempt_at.desc(), d.id.desc()).limit(limit))
        with self.session_factory() as session:
            return [DeadPush(r.id, r.partner_id, name, r.article_id, r.event_type, r.attempts,
                             r.last_status_code, r.last_error, r.last_attempt_at)
                    for r, name in session.execute(stmt)]

    def _filtered(self, stmt: Select[ArticleRow], wanted: ArticleFilter, now: datetime
                  ) -> Select[ArticleRow]:
        q = wanted.q.strip()
        if q:
            pattern = f"%{_like_escape(q.lower())}%"
            stmt = stmt.where(or_(func.lower(ArticleRow.title).like(pattern, escape="\\"),
                                  func.lower(ArticleRow.slug).like(pattern, escape="\\"),
                                  func.lower(ArticleRow.guid) == q.lower()))
        if wanted.language:
            prefix = f"{_like_escape(wanted.language)}-%"
            stmt = stmt.where(or_(ArticleRow.language == wanted.language,
                                  ArticleRow.language.like(prefix, escape="\\")))
        if wanted.category:
            stmt = stmt.where(ArticleRow.id.in_(select(ArticleCategoryRow.article_id).where(
                ArticleCategoryRow.category == wanted.category)))
        if wanted.status == "unpublished":
            stmt = stmt.where(ArticleRow.unpublished_at.is_not(None))
        elif wanted.status == "scheduled":
            stmt = stmt.where(ArticleRow.unpublished_at.is_(None), ArticleRow.published_at > now)
        elif wanted.status == "published":
            stmt = stmt.where(ArticleRow.unpublished_at.is_(None), ArticleRow.published_at <= now)
        return stmt

    def search_articles(
        self, wanted: ArticleFilter, *, now: datetime, limit: int, offset: int = 0
    ) -> tuple[list[Article], int]:
        """Articles matching the filter (title or slug contains `q`, or the guid is `q`), newest
        first, and how many match in all."""
        rows = self._filtered(select(ArticleRow), wanted, now).order_by(
            ArticleRow.published_at.desc(), ArticleRow.id.desc()).limit(limit).offset(offset).options(
            selectinload(ArticleRow.categories))
        total = self._filtered(select(ArticleRow), wanted, now).with_only_columns(
            func.count(ArticleRow.id)).order_by(None)
        with self.session_factory() as session:
            return [to_article(r) for r in session.scalars(rows)], int(session.scalar(total) or 0)

    def article_facets(self) -> tuple[list[str], list[str]]:
        """The languages and the categories articles have, sorted (the filter's choices)."""
        with self.session_factory() as session:
            languages = session.scalars(select(ArticleRow.language).distinct().order_by(ArticleRow.language))
            categories = session.scalars(select(ArticleCategoryRow.category).distinct()
                                         .order_by(ArticleCategoryRow.category))
            return list(languages), list(categories)

