"""Admin pages for subscribers: search, one subscriber's lists and delivery history, suppress."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import or_, select

from syndicate.storage.digest_models import (
    DeliveryRow,
    EditionRow,
    MailingListRow,
    SubscriberRow,
    SubscriptionRow,
)
from syndicate.web import admin_api
from syndicate.web.admin.session import CsrfDep, SessionDep
from syndicate.web.admin.views import render
from syndicate.web.deps import ContainerDep
from syndicate.web.security import INT64_MAX, DbId

router = APIRouter(prefix="/admin/subscribers", include_in_schema=False)
PAGE_SIZE = 50


@router.get("", response_class=HTMLResponse)
def subscribers(
    request: Request, container: ContainerDep, _: SessionDep,
    q: str = "", after_id: int = Query(0, ge=0, le=INT64_MAX),
) -> HTMLResponse:
    """Subscribers by id, filtered by the start of the address or part of the name."""
    stmt = select(SubscriberRow).where(SubscriberRow.id > after_id)
    if q.strip():
        stmt = stmt.where(or_(SubscriberRow.email.startswith(q.strip().lower()),
                              SubscriberRow.name.contains(q.strip())))
    with container.session_factory() as session:
        rows = list(session.scalars(stmt.order_by(SubscriberRow.id).limit(PAGE_SIZE + 1)))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render(request, "admin/subscribers.html", {
        "subscribers": rows, "q": q, "next_after": rows[-1].id if more and rows else None,
    })


@router.get("/{subscriber_id}", response_class=HTMLResponse)
def subscriber(request: Request, subscriber_id: DbId, container: ContainerDep, _: SessionDep) -> HTMLResponse:
    """One subscriber: lists, and the newest 100 deliveries with the last SMTP reply."""
    with container.session_factory() as session:
        row = admin_api.subscriber_or_404(session, subscriber_id)
        subscriptions = session.execute(
            select(SubscriptionRow, MailingListRow)
            .join(MailingListRow, MailingListRow.id == SubscriptionRow.list_id)
            .where(SubscriptionRow.subscriber_id == subscriber_id)
        ).all()
        history = session.execute(
            select(DeliveryRow, EditionRow.subject)
            .join(EditionRow, EditionRow.id == DeliveryRow.edition_id)
            .where(DeliveryRow.subscriber_id == subscriber_id)
            .order_by(DeliveryRow.id.desc()).limit(100)
        ).all()
    return render(request, "admin/subscriber.html", {
        "subscriber": row, "subscriptions": subscriptions, "history": history,
    })


@router.post("/{subscriber_id}/suppress")
def suppress(subscriber_id: DbId, container: ContainerDep, _: CsrfDep) -> Response:
    """Stop all mail to the subscriber, then show it again."""
    admin_api.suppress(subscriber_id, container)
    return RedirectResponse(f"/admin/subscribers/{subscriber_id}", status_code=303)
