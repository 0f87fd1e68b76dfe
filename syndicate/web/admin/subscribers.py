"""Admin pages for subscribers: search, add, edit (name, language, lists), suppress, erase (GDPR),
and the CSV export. Every action goes through the use cases of digests/subscribers.py and
digests/erasure.py; suppress and erase ask for confirmation first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syndicate.digests import subscribers as subs
from syndicate.digests.erasure import erase, is_erased
from syndicate.digests.optin import PendingConfirmation
from syndicate.errors import InvalidDigestInput, InvalidEmail, NotFound
from syndicate.web.admin.confirm import ask, is_confirmed
from syndicate.web.admin.session import CsrfDep, SessionDep
from syndicate.web.admin.views import SentFields, render
from syndicate.web.admin_api import export_subscribers, not_found_404
from syndicate.web.deps import ContainerDep
from syndicate.web.security import INT64_MAX, DbId

router = APIRouter(prefix="/admin/subscribers", include_in_schema=False)
PAGE_SIZE = 50
STATUSES = ("pending", "active", "unsubscribed", "bounced", "complained", "suppressed")
ListIds = Annotated[list[int], Form(default_factory=list)]


def _listing(
    request: Request, container: ContainerDep, *, q: str = "", status: str = "", after_id: int = 0,
    form: dict[str, Any] | None = None, error: str = "", status_code: int = 200,
) -> HTMLResponse:
    rows = container.digest_reads.subscribers(q=q, status=status or None, after_id=after_id,
                                              limit=PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render(request, "admin/subscribers.html", {
        "subscribers": rows, "q": q, "status": status, "statuses": STATUSES,
        "next_after": rows[-1].id if more and rows else None,
        "lists": subs.all_lists(container.digest_uow), "form": form or {}, "error": error,
    }, status_code=status_code)


@router.get("", response_class=HTMLResponse)
def subscribers(
    request: Request, container: ContainerDep, _: SessionDep,
    q: str = "", status: str = "", after_id: int = Query(0, ge=0, le=INT64_MAX),
) -> HTMLResponse:
    """Subscribers by id, filtered by the start of the address or part of the name, and status;
    the add form and the export."""
    if status not in ("", *STATUSES):
        status = ""
    return _listing(request, container, q=q, status=status, after_id=after_id)


@router.post("", response_class=HTMLResponse)
def add(
    request: Request, container: ContainerDep, _: CsrfDep, background: BackgroundTasks,
    email: Annotated[str, Form(max_length=320)], lists: ListIds,
    name: Annotated[str, Form(max_length=200)] = "", language: Annotated[str, Form(max_length=35)] = "en",
    confirmed: Annotated[bool, Form()] = False,
) -> Response:
    """Add one reader to the lists ticked; without `confirmed` it stays pending and is mailed a
    confirmation link. A refused field comes back on the same page (422) as typed."""
    try:
        subscriber, owes = subs.add_one(container.digest_uow, email=email, name=name, language=language,
                                        list_ids=lists, confirmed=confirmed, now=container.now())
    except (InvalidEmail, InvalidDigestInput, NotFound) as exc:
        typed = {"email": email, "name": name, "language": language, "lists": lists,
                 "confirmed": confirmed}
        return _listing(request, container, form=typed, error=str(exc), status_code=422)
    if owes:
        background.add_task(container.optin.send_confirmation,
                            PendingConfirmation(subscriber.id, tuple(dict.fromkeys(lists))))
    return RedirectResponse(f"/admin/subscribers/{subscriber.id}?added=1", status_code=303)


@router.get("/export")
def export(container: ContainerDep, _: SessionDep, list_slug: str = Query(..., alias="list")) -> Response:
    """The list's readers as CSV, exactly as the API exports them (formula cells neutralised)."""
    return export_subscribers(container, list=list_slug)


def _page(request: Request, container: ContainerDep, subscriber_id: int, *, flash: str | None = None,
          error: str = "", status_code: int = 200) -> HTMLResponse:
    reads = container.digest_reads
    with not_found_404():
        row = reads.subscriber(subscriber_id)
    history = reads.history(subscriber_id)
    subscriptions = reads.subscriptions(subscriber_id)
    return render(request, "admin/subscriber.html", {
        "subscriber": row, "subscriptions": subscriptions, "erased": is_erased(row.email),
        "history": history, "attempts": reads.attempts_of([d.id for d, _ in history]),
        "lists": subs.all_lists(container.digest_uow),
        "on_lists": {lst.id for sub, lst in subscriptions if sub.status != "unsubscribed"},
        "flash": flash, "error": error,
    }, status_code=status_code)


_FLASHES = {"added": "Subscriber saved.", "saved": "Changes saved.",
            "suppressed": "Suppressed: never mailed again.",
            "erased": "Erased: the address and name are gone; the delivery rows stay, anonymous."}


@router.get("/{subscriber_id}", response_class=HTMLResponse)
def subscriber(
    request: Request, subscriber_id: DbId, container: ContainerDep, _: SessionDep,
    added: str = "", saved: str = "", suppressed: str = "", erased: str = "",
) -> HTMLResponse:
    """One subscriber: the edit form, lists, and the newest 100 deliveries with the last reply."""
    done = {"added": added, "saved": saved, "suppressed": suppressed, "erased": erased}
    flash = next((_FLASHES[k] for k, v in done.items() if v), None)
    return _page(request, container, subscriber_id, flash=flash)


@router.post("/{subscriber_id}", response_class=HTMLResponse)
def edit(
    request: Request, subscriber_id: DbId, container: ContainerDep, _: CsrfDep, lists: ListIds,
    sent: SentFields,
    name: Annotated[str, Form(max_length=200)] = "", language: Annotated[str, Form(max_length=35)] = "en",
) -> Response:
    """Save name, language and lists (joined lists follow the reader's status; unticked ones are left;
    a name or language absent from the form keeps its value); 409 for an erased subscriber, which
    must stay anonymous."""
    with not_found_404():
        current = container.digest_reads.subscriber(subscriber_id)
        if is_erased(current.email):
            raise HTTPException(409, f"subscriber {subscriber_id} was erased; it cannot be edited")
    name = name if "name" in sent else current.name
    language = language if "language" in sent else current.language
    try:
        subs.edit_subscriber(container.digest_uow, subscriber_id, name=name, language=language,
                             list_ids=lists, now=container.now())
    except InvalidDigestInput as exc:
        return _page(request, container, subscriber_id, error=str(exc), status_code=422)
    except NotFound as exc:
        if exc.kind == "list":
            return _page(request, container, subscriber_id, error=str(exc), status_code=422)
        raise HTTPException(404, f"no subscriber with id {subscriber_id}") from None
    return RedirectResponse(f"/admin/subscribers/{subscriber_id}?saved=1", status_code=303)


@router.post("/{subscriber_id}/suppress")
def suppress(
    request: Request, subscriber_id: DbId, container: ContainerDep, _: CsrfDep,
    reason: Annotated[str, Form(max_length=subs.MAX_REASON)] = "", confirm: Annotated[str, Form()] = "",
) -> Response:
    """Stop all mail to the subscriber (status `suppressed`, who and why kept), after confirmation."""
    if not is_confirmed(confirm):
        with not_found_404():
            row = container.digest_reads.subscriber(subscriber_id)
        why = f" Reason kept: “{reason.strip()}”." if reason.strip() else ""
        message = f"No list will mail {row.email} again, and its queued deliveries are skipped.{why}"
        return ask(request, title=f"Suppress {row.email}?", message=message, button="Yes, suppress",
                   back=f"/admin/subscribers/{subscriber_id}", fields={"reason": reason})
    with not_found_404():
        subs.suppress(container.digest_uow, subscriber_id, now=container.now(), by="admin", reason=reason)
    return RedirectResponse(f"/admin/subscribers/{subscriber_id}?suppressed=1", status_code=303)


@router.post("/{subscriber_id}/erase")
def erase_subscriber(
    request: Request, subscriber_id: DbId, container: ContainerDep, _: CsrfDep,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Erase the address and personal data for a GDPR request, after confirmation; the ledger keeps
    anonymous rows."""
    if not is_confirmed(confirm):
        with not_found_404():
            row = container.digest_reads.subscriber(subscriber_id)
        return ask(request, title=f"Erase {row.email}?",
                   message=("The address, name and language are deleted for good and every list is left. "
                            "Delivery rows stay, without the address, so edition counts still add up. "
                            "This cannot be undone."),
                   button="Yes, erase for good", back=f"/admin/subscribers/{subscriber_id}")
    with not_found_404():
        erase(container.digest_uow, subscriber_id, now=container.now(), by="admin")
    return RedirectResponse(f"/admin/subscribers/{subscriber_id}?erased=1", status_code=303)
