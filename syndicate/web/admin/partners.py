"""Admin pages for partners: health, the delivery log with HTTP replies, and replay buttons."""

from __future__ import annotations

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syndicate.errors import NotFound, SyndicateError
from syndicate.partners.ports import DeliveryStatus
from syndicate.web.admin.session import CsrfDep, SessionDep
from syndicate.web.admin.views import queued_again, render
from syndicate.web.deps import ContainerDep
from syndicate.web.security import INT64_MAX, DbId

router = APIRouter(prefix="/admin/partners", include_in_schema=False)
LOG_SIZE = 100
STATUSES = tuple(DeliveryStatus)


@router.get("", response_class=HTMLResponse)
def partners(request: Request, container: ContainerDep, _: SessionDep) -> HTMLResponse:
    """Every partner with its health."""
    overviews = container.partner_reads.partners(order="name")
    return render(request, "admin/partners.html", {
        "partners": [(o.partner, o.deliveries) for o in overviews], "statuses": STATUSES,
        "alerts": container.partner_reads.alerts(),
    })


@router.get("/{partner_id}", response_class=HTMLResponse)
def partner(
    request: Request, partner_id: DbId, container: ContainerDep, _: SessionDep,
    status: str | None = Query(None), replayed: DbId | None = None,
) -> HTMLResponse:
    """One partner: its filters, counts and the newest deliveries with every attempt."""
    if status is not None and status not in STATUSES:
        raise HTTPException(404, f"unknown delivery status {status!r}")
    wanted = DeliveryStatus(status) if status is not None else None
    try:
        found = container.partner_reads.delivery_log(partner_id, status=wanted, limit=LOG_SIZE)
    except NotFound:
        raise HTTPException(404, f"no partner with id {partner_id}") from None
    return render(request, "admin/partner.html", {
        "partner": found.overview.partner, "counts": found.overview.deliveries,
        "statuses": STATUSES, "status": status,
        "deliveries": [(d, d.log) for d in found.entries], "flash": queued_again(replayed),
    })


@router.post("/{partner_id}/replay")
def replay(
    partner_id: DbId, container: ContainerDep, _: CsrfDep,
    article_id: int | None = Form(None, ge=0, le=INT64_MAX), failed: bool = Form(False),
    force: bool = Form(False),
) -> Response:
    """Replay the partner's dead deliveries, or everything it has of one article (outside its
    filters only with `force`)."""
    try:
        done = container.partner_registry.resend(partner_id, article_id=article_id, failed=failed,
                                                 force=force)
    except SyndicateError as exc:
        raise HTTPException(422, str(exc)) from None
    return RedirectResponse(f"/admin/partners/{partner_id}?replayed={len(done.ids)}", status_code=303)
