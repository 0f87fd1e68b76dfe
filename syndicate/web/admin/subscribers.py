"""Admin pages for subscribers: search, one subscriber's lists and delivery history, suppress."""

from __future__ import annotations

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syndicate.digests import subscribers as subs
from syndicate.web.admin.session import CsrfDep, SessionDep
from syndicate.web.admin.views import render
from syndicate.web.admin_api import not_found_404
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
    rows = container.digest_reads.subscribers(q=q, after_id=after_id, limit=PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render(request, "admin/subscribers.html", {
        "subscribers": rows, "q": q, "next_after": rows[-1].id if more and rows else None,
    })


@router.get("/{subscriber_id}", response_class=HTMLResponse)
def subscriber(request: Request, subscriber_id: DbId, container: ContainerDep, _: SessionDep) -> HTMLResponse:
    """One subscriber: lists, and the newest 100 deliveries with the last SMTP reply."""
    reads = container.digest_reads
    with not_found_404():
        row = reads.subscriber(subscriber_id)
    history = reads.history(subscriber_id)
    return render(request, "admin/subscriber.html", {
        "subscriber": row, "subscriptions": reads.subscriptions(subscriber_id),
        "history": history, "attempts": reads.attempts_of([d.id for d, _ in history]),
    })


@router.post("/{subscriber_id}/suppress")
def suppress(
    subscriber_id: DbId, container: ContainerDep, _: CsrfDep,
    reason: str = Form("", max_length=subs.MAX_REASON),
) -> Response:
    """Stop all mail to the subscriber (status `suppressed`, with the reason given), then show it."""
    with not_found_404():
        subs.suppress(container.digest_uow, subscriber_id, now=container.now(), by="admin",
                      reason=reason)
    return RedirectResponse(f"/admin/subscribers/{subscriber_id}", status_code=303)
