"""Admin pages for partners: health, the delivery log with HTTP replies, and replay buttons."""

from __future__ import annotations

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from syndicate.errors import SyndicateError
from syndicate.partners import registry, store
from syndicate.storage.partner_models import DELIVERY_STATUSES, PartnerRow
from syndicate.web.admin.queries import status_counts
from syndicate.web.admin.session import CsrfDep, SessionDep
from syndicate.web.admin.views import queued_again, render
from syndicate.web.deps import ContainerDep
from syndicate.web.security import INT64_MAX, DbId

router = APIRouter(prefix="/admin/partners", include_in_schema=False)
LOG_SIZE = 100


@router.get("", response_class=HTMLResponse)
def partners(request: Request, container: ContainerDep, _: SessionDep) -> HTMLResponse:
    """Every partner with its health."""
    with container.session_factory() as session:
        rows = list(session.scalars(select(PartnerRow).order_by(PartnerRow.name)))
        counts = status_counts(session, [p.id for p in rows])
    return render(request, "admin/partners.html", {
        "partners": [(p, counts[p.id]) for p in rows], "statuses": DELIVERY_STATUSES,
        "alerts": registry.alerts(container),
    })


@router.get("/{partner_id}", response_class=HTMLResponse)
def partner(
    request: Request, partner_id: DbId, container: ContainerDep, _: SessionDep,
    status: str | None = Query(None), replayed: DbId | None = None,
) -> HTMLResponse:
    """One partner: its filters, counts and the newest deliveries with every attempt."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise HTTPException(404, f"unknown delivery status {status!r}")
    with container.session_factory() as session:
        found = session.get(PartnerRow, partner_id)
        if found is None:
            raise HTTPException(404, f"no partner with id {partner_id}")
        counts = status_counts(session, [partner_id])[partner_id]
        deliveries = store.deliveries_of(session, partner_id, status=status, limit=LOG_SIZE)
        attempts = store.attempts_of(session, [d.id for d in deliveries])
    return render(request, "admin/partner.html", {
        "partner": found, "counts": counts, "statuses": DELIVERY_STATUSES, "status": status,
        "deliveries": [(d, attempts[d.id]) for d in deliveries], "flash": queued_again(replayed),
    })


@router.post("/{partner_id}/replay")
def replay(
    partner_id: DbId, container: ContainerDep, _: CsrfDep,
    article_id: int | None = Form(None, ge=0, le=INT64_MAX), failed: bool = Form(False),
) -> Response:
    """Replay the partner's dead deliveries, or everything it has of one article."""
    try:
        ids = registry.resend(container, partner_id, article_id=article_id, failed=failed)
    except SyndicateError as exc:
        raise HTTPException(422, str(exc)) from None
    return RedirectResponse(f"/admin/partners/{partner_id}?replayed={len(ids)}", status_code=303)
