"""Admin pages for mailing lists: every list, creating one (through the use case), and the
HTML form snippet a site pastes to let readers subscribe."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syndicate.digests import subscribers as subs
from syndicate.errors import InvalidDigestInput
from syndicate.web.admin.session import CsrfDep, SessionDep
from syndicate.web.admin.views import render
from syndicate.web.deps import ContainerDep

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
