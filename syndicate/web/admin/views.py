"""Admin pages: sign-in, overview, articles. Feature pages live in sibling modules."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syndicate.web.admin.session import (
    CsrfDep,
    SessionDep,
    check_login_csrf,
    end_session,
    login_csrf_token,
    read_session,
    set_login_csrf,
    start_session,
    token_matches,
)
from syndicate.web.deps import ContainerDep
from syndicate.web.security import MAX_PAGE, DbId

if TYPE_CHECKING:
    from syndicate.bootstrap import Container

router = APIRouter(prefix="/admin", include_in_schema=False)
PAGE_SIZE = 50


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """Render an admin template with the common context (session CSRF token, base URL)."""
    container = request.app.state.container
    session = read_session(container, request)
    base = {"csrf_token": session.csrf if session else "", "base_url": container.settings.base_url,
            "embedded": container.settings.is_embedded, "path": request.url.path}
    return request.app.state.templates.TemplateResponse(
        request, template, base | context, status_code=status_code
    )


def queued_again(count: int | None) -> str | None:
    """The flash line after a resend or replay button, or None when no button was pressed."""
    if count is None:
        return None
    return f"{count} deliver{'y' if count == 1 else 'ies'} queued again."


def _safe_next(target: str | None) -> str:
    # Only local admin paths: never an open redirect.
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return "/admin"


def login_page(request: Request, next_path: str, error: str | None, status: int) -> Response:
    """The sign-in page, with a CSRF token of its own."""
    token = login_csrf_token(request)
    page = render(request, "admin/login.html", {"next": next_path, "error": error, "login_csrf": token},
                  status_code=status)
    set_login_csrf(page, token, request.app.state.container)
    return page


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return login_page(request, _safe_next(next), None, 200)


@router.post("/login")
def login(
    request: Request,
    container: ContainerDep,
    token: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form("/admin"),
) -> Response:
    """Exchange the admin token for a session cookie; 401 with the form again when wrong."""
    check_login_csrf(request, csrf_token)
    if not token_matches(container, token):
        return login_page(request, _safe_next(next), "That is not the admin token.", 401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    start_session(container, response)
    return response


@router.post("/logout")
def logout(session: CsrfDep, container: ContainerDep) -> Response:
    """End the session: revoked server-side, so a copy of the old cookie no longer signs in."""
    response = RedirectResponse("/admin/login", status_code=303)
    end_session(container, session, response)
    return response


@router.get("", response_class=HTMLResponse)
def overview(request: Request, container: ContainerDep, _: SessionDep) -> HTMLResponse:
    """Recent articles, events awaiting handling, and what each feature reports."""
    articles = container.article_reader.newest(limit=10, include_unpublished=True)
    outbox = container.event_log.health()
    return render(request, "admin/overview.html", {
        "articles": articles, "pending_events": outbox.pending, "failing_events": outbox.failing,
        **delivery_overview(container),
    })


@router.get("/articles", response_class=HTMLResponse)
def articles(
    request: Request, container: ContainerDep, _: SessionDep, page: int = Query(1, ge=1, le=MAX_PAGE)
) -> HTMLResponse:
    """Every article, newest first."""
    reader = container.article_reader
    total = reader.count(include_unpublished=True)
    rows = reader.newest(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, include_unpublished=True)
    return render(request, "admin/articles.html", {
        "now": container.now(), "articles": rows, "page": page,
        "pages": max(1, math.ceil(total / PAGE_SIZE)), "total": total,
    })


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article(request: Request, article_id: DbId, container: ContainerDep, _: SessionDep) -> HTMLResponse:
    """One article and everywhere it went."""
    found = container.article_reader.by_id(article_id)
    if found is None:
        raise HTTPException(404, f"no article with id {article_id}")
    return render(request, "admin/article.html", {
        "article": found, "events": container.event_log.of_article(article_id), "now": container.now(),
    })


@router.post("/articles/{article_id}/release")
def reschedule_article(
    article_id: DbId, container: ContainerDep, _: CsrfDep, release_at: Annotated[str, Form()]
) -> Response:
    """Move a scheduled article's release time from the dashboard, then show it again."""
    if container.articles.reschedule(article_id, release_at) is None:
        raise HTTPException(404, f"no article with id {article_id}")
    return RedirectResponse(f"/admin/articles/{article_id}", status_code=303)


@router.post("/articles/{article_id}/unpublish")
def unpublish_article(article_id: DbId, container: ContainerDep, _: CsrfDep) -> Response:
    """Unpublish from the dashboard, then show the article again."""
    if container.articles.unpublish(article_id) is None:
        raise HTTPException(404, f"no article with id {article_id}")
    return RedirectResponse(f"/admin/articles/{article_id}", status_code=303)


def delivery_overview(container: Container) -> dict[str, Any]:
    """Recent editions with counts, partner health, and delivery failures of the last 24 hours."""
    since = container.now() - timedelta(hours=24)
    return {
        "editions": [(e, e.list_name, e.counts) for e in container.digest_reads.editions(limit=5)],
        "partners": [(o.partner, o.deliveries) for o in container.partner_reads.partners(order="name")],
        "mail_failures_24h": container.digest_reads.failures_since(since),
        "push_failures_24h": container.partner_reads.dead_since(since),
    }
