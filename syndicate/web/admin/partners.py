"""Admin pages for partners: add (the secret shown once), edit filters and embargo notices,
disable/enable (disabling confirmed first), rotate the secret, health, the delivery log with HTTP
replies, and replays. Every action is a PartnerRegistry use case."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syndicate.errors import InvalidPartner, NotFound, PartnerUrlRefused, SyndicateError
from syndicate.partners.ports import DeliveryStatus, PartnerInput
from syndicate.web.admin.confirm import ask, is_confirmed
from syndicate.web.admin.session import CsrfDep, SessionDep
from syndicate.web.admin.views import SentFields, queued_again, render
from syndicate.web.deps import ContainerDep
from syndicate.web.security import INT64_MAX, DbId

router = APIRouter(prefix="/admin/partners", include_in_schema=False)
LOG_SIZE = 100
STATUSES = tuple(DeliveryStatus)


def _categories(text: str) -> list[str]:
    return [c.strip() for c in text.replace("\n", ",").split(",") if c.strip()]


def _listing(
    request: Request, container: ContainerDep, *, form: dict[str, str] | None = None, error: str = "",
    created: tuple[Any, str] | None = None, status_code: int = 200,
) -> HTMLResponse:
    overviews = container.partner_reads.partners(order="name")
    return render(request, "admin/partners.html", {
        "partners": [(o.partner, o.deliveries) for o in overviews], "statuses": STATUSES,
        "alerts": container.partner_reads.alerts(), "form": form or {}, "error": error, "created": created,
    }, status_code=status_code)


@router.get("", response_class=HTMLResponse)
def partners(request: Request, container: ContainerDep, _: SessionDep) -> HTMLResponse:
    """Every partner with its health, and the form to add one."""
    return _listing(request, container)


@router.post("", response_class=HTMLResponse)
def add(
    request: Request, container: ContainerDep, _: CsrfDep,
    name: Annotated[str, Form(max_length=200)], url: Annotated[str, Form(max_length=2000)],
    categories: Annotated[str, Form(max_length=2000)] = "",
    language: Annotated[str, Form(max_length=35)] = "",
    rate_limit_per_minute: Annotated[int, Form(ge=0, le=1_000_000)] = 0,
    embargoed: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    """Register a partner and show its signing secret this once (never again, nor in any URL);
    a rate limit of 0 is none."""
    data = PartnerInput(name=name, url=url.strip(), categories=_categories(categories),
                        language=language.strip() or None,
                        rate_limit_per_minute=rate_limit_per_minute or None, embargoed=embargoed)
    try:
        partner, secret = container.partner_registry.add(data)
    except (InvalidPartner, PartnerUrlRefused) as exc:
        typed = {"name": name, "url": url, "categories": categories, "language": language,
                 "rate_limit_per_minute": str(rate_limit_per_minute),
                 "embargoed": "true" if embargoed else ""}
        return _listing(request, container, form=typed, error=str(exc), status_code=422)
    return _listing(request, container, created=(partner, secret))


_SAVED = {"1": "Changes saved.", "disabled": "Disabled: nothing is pushed until it is enabled again.",
          "enabled": "Enabled: waiting deliveries go now."}


def _page(
    request: Request, partner_id: int, container: ContainerDep, *, status: str | None = None,
    flash: str | None = None, error: str = "", secret: Any = None, status_code: int = 200,
) -> HTMLResponse:
    if status is not None and status not in STATUSES:
        raise HTTPException(404, f"unknown delivery status {status!r}")
    wanted = DeliveryStatus(status) if status is not None else None
    try:
        found = container.partner_reads.delivery_log(partner_id, status=wanted, limit=LOG_SIZE)
    except NotFound:
        raise HTTPException(404, f"no partner with id {partner_id}") from None
    partner = found.overview.partner
    return render(request, "admin/partner.html", {
        "partner": partner, "counts": found.overview.deliveries, "statuses": STATUSES, "status": status,
        "deliveries": [(d, d.log) for d in found.entries], "flash": flash, "error": error,
        "secret": secret, "categories": ", ".join(partner.categories or ()),
    }, status_code=status_code)


@router.get("/{partner_id}", response_class=HTMLResponse)
def partner(
    request: Request, partner_id: DbId, container: ContainerDep, _: SessionDep,
    status: str | None = Query(None), replayed: DbId | None = None, saved: str = "",
) -> HTMLResponse:
    """One partner: its filters (editable), counts and the newest deliveries with every attempt."""
    return _page(request, partner_id, container, status=status,
                 flash=queued_again(replayed) or _SAVED.get(saved))


@router.post("/{partner_id}", response_class=HTMLResponse)
def edit(
    request: Request, partner_id: DbId, container: ContainerDep, _: CsrfDep,
    name: Annotated[str, Form(max_length=200)], url: Annotated[str, Form(max_length=2000)],
    sent: SentFields,
    categories: Annotated[str, Form(max_length=2000)] = "",
    language: Annotated[str, Form(max_length=35)] = "",
    rate_limit_per_minute: Annotated[int, Form(ge=0, le=1_000_000)] = 0,
    embargoed: Annotated[bool, Form()] = False,
) -> Response:
    """Change name, URL (checked by the guard), filters and embargo notices. An empty filter means
    every article and a limit of 0 none; a filter or limit absent from the form keeps its value;
    an absent `embargoed` (an unchecked box sends nothing) turns the notices off."""
    data = PartnerInput(
        name=name, url=url.strip(),
        categories=_categories(categories) if "categories" in sent else None,
        language=language.strip() if "language" in sent else None,
        rate_limit_per_minute=rate_limit_per_minute if "rate_limit_per_minute" in sent else None,
        embargoed=embargoed)
    try:
        container.partner_registry.edit(partner_id, data)
    except NotFound:
        raise HTTPException(404, f"no partner with id {partner_id}") from None
    except (InvalidPartner, PartnerUrlRefused) as exc:
        return _page(request, partner_id, container, error=str(exc), status_code=422)
    return RedirectResponse(f"/admin/partners/{partner_id}?saved=1", status_code=303)


@router.post("/{partner_id}/active")
def set_active(
    request: Request, partner_id: DbId, container: ContainerDep, _: CsrfDep,
    active: Annotated[bool, Form()], confirm: Annotated[str, Form()] = "",
) -> Response:
    """Enable a partner (its waiting deliveries go now), or disable it after confirmation."""
    try:
        found = container.partner_reads.partner(partner_id).partner
    except NotFound:
        raise HTTPException(404, f"no partner with id {partner_id}") from None
    if not active and not is_confirmed(confirm):
        return ask(request, title=f"Disable {found.name}?",
                   message=(f"Nothing is pushed to {found.url} until it is enabled again; new articles "
                            "wait for it and go once it is."),
                   button="Yes, disable", back=f"/admin/partners/{partner_id}", fields={"active": "false"})
    container.partner_registry.set_active(partner_id, active)
    done = "enabled" if active else "disabled"
    return RedirectResponse(f"/admin/partners/{partner_id}?saved={done}", status_code=303)


@router.post("/{partner_id}/rotate-secret", response_class=HTMLResponse)
def rotate_secret(
    request: Request, partner_id: DbId, container: ContainerDep, _: CsrfDep,
    confirm: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """A new signing secret, shown once; the old one keeps signing alongside until the overlap ends."""
    if not is_confirmed(confirm):
        return ask(request, title="Rotate the signing secret?",
                   message=("A new secret is made and shown once. Pushes carry signatures of both until "
                            "the overlap ends; after that only the new one verifies."),
                   button="Yes, rotate", back=f"/admin/partners/{partner_id}")
    try:
        rotated = container.partner_registry.rotate_secret(partner_id)
    except NotFound:
        raise HTTPException(404, f"no partner with id {partner_id}") from None
    return _page(request, partner_id, container, secret=rotated)


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
