"""Admin pages for editions: send one now (after confirmation), mail a test of the next one, follow
the send live, delivery counts, the failed list, resends and an email preview."""

from __future__ import annotations

import html
import math
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syndicate.digests import subscribers as subs
from syndicate.digests.proofs import send_proof
from syndicate.digests.service import RESEND_MODES
from syndicate.digests.states import FINAL_STATES, STATES, DeliveryState
from syndicate.errors import InvalidEmail, NotFound, SyndicateError
from syndicate.mail.message import body_placeholders
from syndicate.mail.render import render_edition
from syndicate.mail.strings import strings_for
from syndicate.services.media import with_available_images
from syndicate.web.admin.confirm import ask, is_confirmed
from syndicate.web.admin.outbox import PREVIEW_CSP
from syndicate.web.admin.session import CsrfDep, SessionDep
from syndicate.web.admin.views import queued_again, render
from syndicate.web.deps import ContainerDep
from syndicate.web.security import MAX_PAGE, DbId

router = APIRouter(prefix="/admin/editions", include_in_schema=False)
PAGE_SIZE = 25
ROWS_PAGE_SIZE = 100
PREVIEW_LANGUAGES = ("en", "ru")


def _editions_page(
    request: Request, container: ContainerDep, *, page: int = 1, flash: str | None = None, error: str = "",
    form: dict[str, str] | None = None, status_code: int = 200,
) -> HTMLResponse:
    reads = container.digest_reads
    total = reads.edition_count()
    rows = reads.editions(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render(request, "admin/editions.html", {
        "editions": [(e, e.list_name, e.counts) for e in rows], "states": STATES,
        "page": page, "pages": max(1, math.ceil(total / PAGE_SIZE)), "total": total,
        "lists": subs.all_lists(container.digest_uow), "languages": PREVIEW_LANGUAGES,
        "flash": flash, "error": error, "form": form or {},
    }, status_code=status_code)


@router.get("", response_class=HTMLResponse)
def editions(
    request: Request, container: ContainerDep, _: SessionDep, page: int = Query(1, ge=1, le=MAX_PAGE),
    nothing: str = Query("", max_length=63),
) -> HTMLResponse:
    """Editions newest first, with delivery counts; the send-now and test forms."""
    flash = (f"Nothing to send to {nothing!r}: no new article matches it, or nobody receives it."
             if nothing else None)
    return _editions_page(request, container, page=page, flash=flash)


@router.post("/send")
def send_now(
    request: Request, container: ContainerDep, _: CsrfDep,
    list_slug: Annotated[str, Form(alias="list", max_length=63)], confirm: Annotated[str, Form()] = "",
) -> Response:
    """Build an edition of the list from the articles since its last one and send it, after
    confirmation; then follow it on its page."""
    try:
        lst = subs.list_by_slug(container.digest_uow, list_slug)
    except NotFound as exc:
        return _editions_page(request, container, error=str(exc), status_code=422)
    if not is_confirmed(confirm):
        return ask(request, title=f"Send {lst.name} now?",
                   message=(f"This builds an edition of {lst.name} from the articles since its last one "
                            "and mails it to every active reader. Mail cannot be called back."),
                   button="Yes, send now", back="/admin/editions", fields={"list": lst.slug}, danger=False)
    edition_id = container.digests.send_now(lst.slug)
    if edition_id is None:
        return RedirectResponse(f"/admin/editions?nothing={lst.slug}", status_code=303)
    return RedirectResponse(f"/admin/editions/{edition_id}", status_code=303)


@router.post("/test", response_class=HTMLResponse)
def send_test(
    request: Request, container: ContainerDep, _: CsrfDep,
    list_slug: Annotated[str, Form(alias="list", max_length=63)],
    email: Annotated[str, Form(max_length=320)], language: Annotated[str, Form(max_length=35)] = "en",
) -> HTMLResponse:
    """Mail the list's next edition, as it would be built now, to one address (nothing is stored)."""
    typed = {"list": list_slug, "email": email, "language": language}
    try:
        result = send_proof(editions=container.digests.editions, uow=container.digest_uow,
                            mailer=container.mailer, settings=container.settings, now=container.now(),
                            list_slug=list_slug, email=email, language=language)
    except (NotFound, InvalidEmail) as exc:
        return _editions_page(request, container, error=str(exc), form=typed, status_code=422)
    if result is None:
        return _editions_page(request, container, form=typed,
                              flash=f"No test sent: the next edition of {list_slug!r} would be empty.")
    if not result.accepted:
        return _editions_page(request, container, form=typed, status_code=502,
                              error=f"The mail server refused the test to {result.email}: {result.reply}")
    return _editions_page(request, container, form=typed, flash=(
        f"Test sent to {result.email}: “{result.subject}” ({result.articles} "
        f"article{'' if result.articles == 1 else 's'})."))


def progress_json(counts: dict[DeliveryState, int]) -> dict[str, Any]:
    """What the live progress shows: counts per state, rows in all, rows final, and whether done."""
    total = sum(counts.values())
    done = sum(counts[s] for s in FINAL_STATES)
    return {"counts": {str(k): v for k, v in counts.items()}, "total": total, "done": done,
            "final": counts[DeliveryState.QUEUED] == 0 and counts[DeliveryState.SENDING] == 0}


@router.get("/{edition_id}/progress")
def progress(edition_id: DbId, container: ContainerDep, _: SessionDep) -> dict[str, Any]:
    """The edition's send progress, polled by the edition page while it sends."""
    try:
        found = container.digest_reads.edition(edition_id)
    except NotFound:
        raise HTTPException(404, f"no edition with id {edition_id}") from None
    return progress_json(found.counts)


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
        "languages": PREVIEW_LANGUAGES, "progress": progress_json(found.counts),
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
