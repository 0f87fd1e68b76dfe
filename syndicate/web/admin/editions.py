"""Admin pages for editions: delivery counts, the failed list, resends and an email preview."""

from __future__ import annotations

import html
import math

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syndicate.digests.service import RESEND_MODES
from syndicate.digests.states import STATES, DeliveryState
from syndicate.errors import SyndicateError
from syndicate.mail.message import body_placeholders
from syndicate.mail.render import render_edition
from syndicate.mail.strings import strings_for
from syndicate.services.media import with_available_images
from syndicate.web.admin.outbox import PREVIEW_CSP
from syndicate.web.admin.session import CsrfDep, SessionDep
from syndicate.web.admin.views import queued_again, render
from syndicate.web.deps import ContainerDep
from syndicate.web.security import MAX_PAGE, DbId

router = APIRouter(prefix="/admin/editions", include_in_schema=False)
PAGE_SIZE = 25
ROWS_PAGE_SIZE = 100
PREVIEW_LANGUAGES = ("en", "ru")


@router.get("", response_class=HTMLResponse)
def editions(
    request: Request, container: ContainerDep, _: SessionDep, page: int = Query(1, ge=1, le=MAX_PAGE)
) -> HTMLResponse:
    """Editions newest first, with delivery counts."""
    reads = container.digest_reads
    total = reads.edition_count()
    rows = reads.editions(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render(request, "admin/editions.html", {
        "editions": [(e, e.list_name, e.counts) for e in rows], "states": STATES,
        "page": page, "pages": max(1, math.ceil(total / PAGE_SIZE)), "total": total,
    })


@router.get("/{edition_id}", response_class=HTMLResponse)
def edition(
    request: Request, edition_id: DbId, container: ContainerDep, _: SessionDep,
    state: str = Query("failed"), page: int = Query(1, ge=1, le=MAX_PAGE), resent: DbId | None = None,
) -> HTMLResponse:
    """One edition: counts, its articles, and the deliveries in one state with their last reply."""
    if state not in STATES:
        raise HTTPException(404, f"unknown delivery state {state!r}")
    reads = container.digest_reads
    found = reads.edition(edition_id)
    rows = [(d, d.email) for d in reads.deliveries(
        state=state, edition_id=edition_id, limit=ROWS_PAGE_SIZE, offset=(page - 1) * ROWS_PAGE_SIZE)]
    attempts = reads.attempts_of([d.id for d, _ in rows])
    return render(request, "admin/edition.html", {
        "edition": found, "list": reads.edition_list(found), "counts": found.counts, "states": STATES,
        "state": state, "rows": rows, "attempts": attempts, "articles": reads.edition_articles(found),
        "page": page,
        "pages": max(1, math.ceil(found.counts[DeliveryState(state)] / ROWS_PAGE_SIZE)),
        "flash": queued_again(resent),
        "languages": PREVIEW_LANGUAGES,
    })


@router.post("/{edition_id}/resend")
def resend(
    edition_id: DbId, container: ContainerDep, _: CsrfDep,
    mode: str = Form(...), email: str | None = Form(None),
) -> Response:
    """Queue again exactly the rows the button names, then show the edition."""
    if mode not in RESEND_MODES:
        raise HTTPException(422, f"mode {mode!r} is not one of failed-only, all, to")
    try:
        count = container.digests.resend(edition_id, mode=mode, email=email)
    except SyndicateError as exc:
        raise HTTPException(422, str(exc)) from None
    return RedirectResponse(f"/admin/editions/{edition_id}?resent={count}", status_code=303)


@router.get("/{edition_id}/preview")
def preview(
    edition_id: DbId, container: ContainerDep, _: SessionDep, lang: str = Query("en")
) -> Response:
    """The edition's HTML as a subscriber with language `lang` receives it (placeholders unfilled)."""
    reads = container.digest_reads
    found = reads.edition(edition_id)
    articles = with_available_images(reads.edition_articles(found), container.settings)
    rendered = render_edition(
        list_name=found.list_name, frequency=found.frequency, articles=articles, language=lang,
        base_url=container.settings.base_url, max_html_bytes=100_000,
    )
    # Fill the per-recipient fields as a subscriber named "Reader" would see them (links inert).
    t = strings_for(rendered.language)
    sample = {"greeting": t["hello_name"].format(name="Reader"), "unsubscribe": "#", "preferences": "#"}
    document = rendered.html
    for field, placeholder in body_placeholders("html").items():
        document = document.replace(placeholder, html.escape(sample[field]))
    return Response(document, media_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": PREVIEW_CSP, "X-Content-Type-Options": "nosniff"})
