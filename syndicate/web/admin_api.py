"""Admin JSON API beyond articles: lists, subscribers, editions, deliveries, resends (bearer token).

Partners have their own router (syndicate.web.partners_api). Listings page by keyset (`after_id`)
so they stay fast on a million delivery rows.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from syndicate.digests import service as digests
from syndicate.digests.subscribers import all_lists, list_by_slug
from syndicate.domain.articles import article_json
from syndicate.errors import SyndicateError
from syndicate.feeds.model import FeedFormat, specs_of
from syndicate.storage.articles import ArticleQueries
from syndicate.storage.digest_models import (
    DeliveryRow,
    EditionRow,
    MailingListRow,
    SubscriberRow,
    SubscriptionRow,
)
from syndicate.storage.partner_models import PartnerDeliveryRow, PartnerRow
from syndicate.web.admin.queries import STATES, counts_for
from syndicate.web.deps import AdminDep, ContainerDep
from syndicate.web.security import INT64_MAX, DbId, safe_csv_cell

router = APIRouter(prefix="/api", dependencies=[AdminDep], tags=["admin"])
MAX_LIMIT = 500


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _subscriber(row: SubscriberRow) -> dict[str, Any]:
    return {"id": row.id, "email": row.email, "name": row.name, "language": row.language,
            "status": row.status, "status_reason": row.status_reason,
            "created_at": _iso(row.created_at), "confirmed_at": _iso(row.confirmed_at)}


def _delivery(row: DeliveryRow) -> dict[str, Any]:
    return {"id": row.id, "edition_id": row.edition_id, "subscriber_id": row.subscriber_id,
            "state": row.state, "attempts": row.attempts, "last_reply": row.last_reply,
            "next_attempt_at": _iso(row.next_attempt_at), "sent_at": _iso(row.sent_at),
            "updated_at": _iso(row.updated_at)}


def subscriber_or_404(session: Session, subscriber_id: int) -> SubscriberRow:
    """The subscriber, or HTTP 404 naming the id."""
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        raise HTTPException(404, f"no subscriber with id {subscriber_id}")
    return row


def _fail(exc: SyndicateError) -> HTTPException:
    status = 404 if type(exc).__name__ == "NotFound" else 422
    return HTTPException(status, str(exc))


@router.get("/articles")
def list_articles(
    container: ContainerDep, limit: int = Query(50, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0, le=INT64_MAX),
) -> list[dict[str, Any]]:
    """Articles newest first, unpublished ones included (see `unpublished_at`)."""
    with container.session_factory() as session:
        rows = ArticleQueries(session).newest(limit=limit, offset=offset, include_unpublished=True)
    return [article_json(a, container.settings.base_url) for a in rows]


@router.get("/articles/{article_id}/deliveries")
def article_deliveries(article_id: DbId, container: ContainerDep) -> dict[str, Any]:
    """Everywhere an article went: the feeds it is in, the editions that carried it, partner pushes."""
    with container.session_factory() as session:
        article = ArticleQueries(session).by_id(article_id)
        if article is None:
            raise HTTPException(404, f"no article with id {article_id}")
        # Editions are cut after publication: only those created since can hold the article.
        candidates = session.scalars(
            select(EditionRow).where(EditionRow.created_at >= article.published_at).order_by(EditionRow.id)
        )
        editions = [e for e in candidates if article_id in (e.article_ids or [])]
        counts = counts_for(session, [e.id for e in editions])
        pushes = session.execute(
            select(PartnerDeliveryRow, PartnerRow.name)
            .join(PartnerRow, PartnerRow.id == PartnerDeliveryRow.partner_id)
            .where(PartnerDeliveryRow.article_id == article_id)
            .order_by(PartnerDeliveryRow.id)
        ).all()
    base = container.settings.base_url
    return {
        "article": article_json(article, base),
        "feeds": [spec.url(base, fmt) for spec in specs_of(article) for fmt in FeedFormat]
        if article.is_published else [],
        "editions": [{"id": e.id, "subject": e.subject, "counts": counts[e.id]} for e in editions],
        "partners": [{"partner_id": d.partner_id, "partner": name, "event_type": d.event_type,
                      "webhook_id": d.webhook_id, "status": d.status, "attempts": d.attempts,
                      "last_status_code": d.last_status_code, "delivered_at": _iso(d.delivered_at)}
                     for d, name in pushes],
    }


@router.get("/lists")
def lists(container: ContainerDep) -> list[dict[str, Any]]:
    """Every mailing list."""
    with container.session_factory() as session:
        return [{"id": r.id, "slug": r.slug, "name": r.name, "frequency": r.frequency,
                 "language": r.language, "categories": r.categories,
                 "custom_frequency": r.custom_frequency} for r in all_lists(session)]


@router.get("/subscribers")
def subscribers(
    container: ContainerDep, q: str | None = None, status: str | None = None,
    after_id: int = Query(0, ge=0, le=INT64_MAX), limit: int = Query(100, ge=1, le=MAX_LIMIT),
) -> list[dict[str, Any]]:
    """Subscribers by id; `q` matches the start of the address or the name."""
    stmt = select(SubscriberRow).where(SubscriberRow.id > after_id)
    if q:
        needle = q.strip().lower()
        stmt = stmt.where(or_(SubscriberRow.email.startswith(needle), SubscriberRow.name.contains(q.strip())))
    if status:
        stmt = stmt.where(SubscriberRow.status == status)
    with container.session_factory() as session:
        return [_subscriber(r) for r in session.scalars(stmt.order_by(SubscriberRow.id).limit(limit))]


@router.get("/subscribers/export")
def export_subscribers(container: ContainerDep, list: str = Query(..., alias="list")) -> Response:
    """The list's subscribers as CSV (`email,name,language,status`), importable again."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["email", "name", "language", "status"])
    with container.session_factory() as session:
        try:
            lst = list_by_slug(session, list)
        except SyndicateError as exc:
            raise _fail(exc) from None
        rows = session.execute(
            select(SubscriberRow, SubscriptionRow.status)
            .join(SubscriptionRow, SubscriptionRow.subscriber_id == SubscriberRow.id)
            .where(SubscriptionRow.list_id == lst.id).order_by(SubscriberRow.id)
        )
        for sub, sub_status in rows:
            # Addresses may legally start with '=', '+', '-' or '@': never a formula to a spreadsheet.
            writer.writerow([safe_csv_cell(v) for v in (sub.email, sub.name, sub.language, sub_status)])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{lst.slug}.csv"'})


@router.get("/subscribers/{subscriber_id}")
def subscriber(subscriber_id: DbId, container: ContainerDep) -> dict[str, Any]:
    """One subscriber with subscriptions and the newest 100 deliveries."""
    with container.session_factory() as session:
        row = subscriber_or_404(session, subscriber_id)
        subs = session.execute(
            select(SubscriptionRow, MailingListRow.slug)
            .join(MailingListRow, MailingListRow.id == SubscriptionRow.list_id)
            .where(SubscriptionRow.subscriber_id == subscriber_id)
        ).all()
        history = session.scalars(
            select(DeliveryRow).where(DeliveryRow.subscriber_id == subscriber_id)
            .order_by(DeliveryRow.id.desc()).limit(100)
        )
        return _subscriber(row) | {
            "subscriptions": [{"list": slug, "status": s.status, "frequency": s.frequency}
                              for s, slug in subs],
            "deliveries": [_delivery(d) for d in history],
        }


@router.post("/subscribers/{subscriber_id}/suppress")
def suppress(subscriber_id: DbId, container: ContainerDep) -> dict[str, Any]:
    """Stop all mail to this subscriber (status `complained`); queued deliveries are skipped."""
    with container.session_factory() as session:
        row = subscriber_or_404(session, subscriber_id)
        row.status, row.status_reason = "complained", "suppressed by an admin"
        session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.subscriber_id == subscriber_id, DeliveryRow.state == "queued")
            .values(state="skipped", last_reply="suppressed by an admin", updated_at=container.now())
        )
        session.commit()
        return _subscriber(row)


@router.get("/editions")
def editions(
    container: ContainerDep, before_id: DbId | None = None, limit: int = Query(50, ge=1, le=MAX_LIMIT)
) -> list[dict[str, Any]]:
    """Editions newest first with delivery counts by state."""
    stmt = select(EditionRow, MailingListRow.slug).join(
        MailingListRow, MailingListRow.id == EditionRow.list_id
    )
    if before_id is not None:
        stmt = stmt.where(EditionRow.id < before_id)
    with container.session_factory() as session:
        rows = session.execute(stmt.order_by(EditionRow.id.desc()).limit(limit)).all()
        counts = counts_for(session, [e.id for e, _ in rows])
    return [{"id": e.id, "list": slug, "frequency": e.frequency, "subject": e.subject,
             "created_at": _iso(e.created_at), "article_ids": e.article_ids, "counts": counts[e.id]}
            for e, slug in rows]


@router.get("/editions/{edition_id}")
def edition(edition_id: DbId, container: ContainerDep) -> dict[str, Any]:
    """One edition: its status and counts by state."""
    with container.session_factory() as session:
        row = session.get(EditionRow, edition_id)
        if row is None:
            raise HTTPException(404, f"no edition with id {edition_id}")
        counts = counts_for(session, [edition_id])[edition_id]
    final = counts["queued"] == 0 and counts["sending"] == 0
    return {"id": row.id, "list_id": row.list_id, "subject": row.subject, "frequency": row.frequency,
            "created_at": _iso(row.created_at), "article_ids": row.article_ids,
            "status": "done" if final else "sending", "counts": counts}


class ResendRequest(BaseModel):
    """Which rows of an edition to queue again; `email` only with mode `to`."""

    mode: Literal["failed-only", "to", "all"]
    email: str | None = None


@router.post("/editions/{edition_id}/resend")
def resend(edition_id: DbId, body: ResendRequest, container: ContainerDep) -> dict[str, Any]:
    """Queue again exactly the rows named, like `syndicate resend edition`."""
    try:
        count = digests.resend(container, edition_id, mode=body.mode, email=body.email)
    except SyndicateError as exc:
        raise _fail(exc) from None
    return {"edition_id": edition_id, "queued": count}


@router.get("/deliveries")
def deliveries(
    container: ContainerDep, state: str | None = None, edition_id: DbId | None = None,
    subscriber_id: DbId | None = None, after_id: int = Query(0, ge=0, le=INT64_MAX),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
) -> list[dict[str, Any]]:
    """Email deliveries filtered by state, edition or subscriber, by id (keyset: `after_id`)."""
    if state is not None and state not in STATES:
        raise HTTPException(422, f"state {state!r} is not one of {', '.join(STATES)}")
    stmt = select(DeliveryRow).where(DeliveryRow.id > after_id)
    if state:
        stmt = stmt.where(DeliveryRow.state == state)
    if edition_id is not None:
        stmt = stmt.where(DeliveryRow.edition_id == edition_id)
    if subscriber_id is not None:
        stmt = stmt.where(DeliveryRow.subscriber_id == subscriber_id)
    with container.session_factory() as session:
        return [_delivery(d) for d in session.scalars(stmt.order_by(DeliveryRow.id).limit(limit))]
