"""Admin pages for mailing lists: every list, creating, editing and archiving one (through the
use cases; archiving asks first), and the HTML form snippet a site pastes to let readers
subscribe."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syndicate.digests import subscribers as subs
from syndicate.errors import InvalidDigestInput
from syndicate.web.admin.confirm import ask, is_confirmed
from syndicate.web.admin.session import CsrfDep, SessionDep
from syndicate.web.admin.views import SentFields, render
from syndicate.web.deps import ContainerDep
from syndicate.web.security import DbId

router = APIRouter(prefix="/admin/lists", include_in_schema=False)


def _page(request: Request, container: ContainerDep, *, status: int = 200, error: str = "",
          form: dict[str, str] | None = None, created: str = "") -> HTMLResponse:
    lists = subs.all_lists(container.digest_uow)
    return render(request, "admin/lists.html", {
        "lists": lists, "public": [lst for lst in lists if lst.is_public], "error": error,
        "form": form or {}, "flash": f"List {created!r} created." if created else None,
    }, status_code=status)


@router.get("", response_class=HTMLResponse)
def lists_page(request: Request, container: ContainerDep, _: SessionDep, created: str = "") -> HTMLResponse:
    """Every list (visibility, frequency, description), the create form and the sign-up snippet."""
    return _page(request, container, created=created[:63])


@router.post("", response_class=HTMLResponse)
def create(
    request: Request, container: ContainerDep, _: CsrfDep,
    slug: Annotated[str, Form(max_length=63)], name: Annotated[str, Form(max_length=200)],
    frequency: Annotated[str, Form(max_length=10)],
    description: Annotated[str, Form(max_length=subs.MAX_DESCRIPTION)] = "",
    language: Annotated[str, Form(max_length=35)] = "",
    visibility: Annotated[str, Form(max_length=10)] = "public",
) -> Response:
    """Create a list; a refused field comes back on the same page (422) with the form as typed."""
    try:
        subs.create_list(container.digest_uow, slug=slug.strip(), name=name, frequency=frequency,
                         language=language.strip() or None, categories=[], custom_frequency=False,
                         now=container.now(), description=description, visibility=visibility)
    except InvalidDigestInput as exc:
        typed = {"slug": slug, "name": name, "frequency": frequency, "description": description,
                 "language": language, "visibility": visibility}
        return _page(request, container, status=422, error=str(exc), form=typed)
    return RedirectResponse(f"/admin/lists?created={slug.strip()}", status_code=303)


def _edit_page(request: Request, container: ContainerDep, list_id: int, *, status: int = 200,
               error: str = "", form: dict[str, str] | None = None, saved: bool = False) -> HTMLResponse:
    lst = subs.list_by_id(container.digest_uow, list_id)
    shown = form or {"name": lst.name, "frequency": str(lst.frequency), "language": lst.language or "",
                     "categories": " ".join(lst.categories), "description": lst.description,
                     "visibility": lst.visibility, "repeat_stories": "yes" if lst.repeat_stories else ""}
    return render(request, "admin/list.html", {
        "list": lst, "form": shown, "error": error, "flash": "Saved." if saved else None,
    }, status_code=status)


@router.get("/{list_id}", response_class=HTMLResponse)
def list_page(request: Request, container: ContainerDep, _: SessionDep, list_id: DbId,
              saved: str = "") -> HTMLResponse:
    """One list's settings, to edit, and its archive button."""
    return _edit_page(request, container, list_id, saved=saved == "1")


@router.post("/{list_id}", response_class=HTMLResponse)
def edit(
    request: Request, container: ContainerDep, _: CsrfDep, list_id: DbId, sent: SentFields,
    name: Annotated[str, Form(max_length=200)], frequency: Annotated[str, Form(max_length=10)],
    description: Annotated[str, Form(max_length=subs.MAX_DESCRIPTION)] = "",
    language: Annotated[str, Form(max_length=35)] = "",
    categories: Annotated[str, Form(max_length=2000)] = "",
    visibility: Annotated[str, Form(max_length=10)] = "public",
    repeat_stories: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """Save a list's fields; a refused field comes back on the same page (422) as typed. A field
    absent from the form keeps its value (a private list never turns public for want of one);
    an absent `repeat_stories` (an unchecked box sends nothing) turns repeating off."""
    current = subs.list_by_id(container.digest_uow, list_id)
    description = description if "description" in sent else current.description
    language = language if "language" in sent else current.language or ""
    categories = categories if "categories" in sent else " ".join(current.categories)
    visibility = visibility if "visibility" in sent else current.visibility
    try:
        fields = subs.check_list_fields(name=name, frequency=frequency, language=language.strip() or None,
                                        categories=categories.replace(",", " ").split(),
                                        description=description, visibility=visibility)
        subs.edit_list(container.digest_uow, list_id, fields, repeat_stories=repeat_stories == "yes")
    except InvalidDigestInput as exc:
        typed = {"name": name, "frequency": frequency, "language": language, "categories": categories,
                 "description": description, "visibility": visibility, "repeat_stories": repeat_stories}
        return _edit_page(request, container, list_id, status=422, error=str(exc), form=typed)
    return RedirectResponse(f"/admin/lists/{list_id}?saved=1", status_code=303)


@router.post("/{list_id}/archive", response_class=HTMLResponse)
def archive(
    request: Request, container: ContainerDep, _: CsrfDep, list_id: DbId,
    archived: Annotated[bool, Form()], confirm: Annotated[str, Form()] = "",
) -> Response:
    """Archive a list after confirmation (no new editions, off the sign-up pages), or bring it back."""
    lst = subs.list_by_id(container.digest_uow, list_id)
    if archived and not is_confirmed(confirm):
        return ask(request, title=f"Archive {lst.name}?",
                   message=f"The list {lst.slug!r} gets no new editions and leaves the sign-up pages. "
                           "Its readers, editions and delivery history stay, and it can be brought back.",
                   button="Archive the list", back=f"/admin/lists/{list_id}", fields={"archived": "true"})
    subs.archive_list(container.digest_uow, list_id, archived=archived)
    return RedirectResponse(f"/admin/lists/{list_id}?saved=1", status_code=303)
