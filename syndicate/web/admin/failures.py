"""The rows behind the overview's failure counts: email deliveries that failed or bounced, and
partner pushes that gave up, in the last N hours (24 by default, as the overview counts them)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from syndicate.web.admin.session import SessionDep
from syndicate.web.admin.views import render
from syndicate.web.deps import ContainerDep

router = APIRouter(prefix="/admin/failures", include_in_schema=False)
ROWS = 200


@router.get("", response_class=HTMLResponse)
def failures(
    request: Request, container: ContainerDep, _: SessionDep, hours: int = Query(24, ge=1, le=24 * 90),
) -> HTMLResponse:
    """Failed and bounced deliveries and dead partner pushes since `hours` ago, newest first."""
    since = container.now() - timedelta(hours=hours)
    reads = container.admin_reads
    mail = reads.failed_deliveries(since=since, limit=ROWS)
    pushes = reads.dead_pushes(since=since, limit=ROWS)
    return render(request, "admin/failures.html", {
        "hours": hours, "mail": mail, "pushes": pushes, "limit": ROWS,
        "mail_total": container.digest_reads.failures_since(since),
        "push_total": container.partner_reads.dead_since(since),
    })
