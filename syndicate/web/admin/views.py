"""Admin pages: sign-in, overview, articles. Feature pages live in sibling modules."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from syndicate.digests.states import STATES
from syndicate.feeds.model import FeedFormat, specs_of
from syndicate.storage.admin_read import ARTICLE_STATUSES, ArticleFilter
from syndicate.web.admin.charts import deliveries_chart
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
CHART_DAYS = 14


async def _sent_fields(request: Request) -> frozenset[str]:
    """The names a form sent: FastAPI gives an absent field and an empty one the same default."""
    return frozenset((await request.form()).keys())


#: The names of the fields a POST sent, so an edit keeps the value of a field it was not sent.
SentFields = Annotated[frozenset[str], Depends(_sent_fields)]


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
    now = container.now()
    per_day = container.admin_reads.deliveries_per_day(until=now, days=CHART_DAYS)
    return render(request, "admin/overview.html", {
        "articles": articles, "pending_events": outbox.pending, "failing_events": outbox.failing,
        "growth": container.admin_reads.list_growth(now), "chart": Markup(deliveries_chart(per_day)),
        "per_day": per_day, "chart_days": CHART_DAYS,
        **delivery_overview(container),
    })


@router.get("/articles", response_class=HTMLResponse)
def articles(
    request: Request, container: ContainerDep, _: SessionDep, page: int = Query(1, ge=1, le=MAX_PAGE),
    q: Annotated[str, Query(max_length=200)] = "", language: Annotated[str, Query(max_length=35)] = "",
    category: Annotated[str, Query(max_length=63)] = "", status: Annotated[str, Query(max_length=12)] = "",
) -> HTMLResponse:
    """Articles newest first: search by title, slug or guid; filter by language, category, status."""
    wanted = ArticleFilter(q=q, language=language.strip(), category=category.strip(),
                           status=next((s for s in ARTICLE_STATUSES if s == status), None))
    reads = container.admin_reads
    rows, total = reads.search_articles(wanted, now=container.now(), limit=PAGE_SIZE,
                                        offset=(page - 1) * PAGE_SIZE)
    languages, categories = reads.article_facets()
    query = urlencode({"q": q, "language": wanted.language, "category": wanted.category,
                       "status": wanted.status or ""})
    return render(request, "admin/articles.html", {
        "now": container.now(), "articles": rows, "page": page,
        "pages": max(1, math.ceil(total / PAGE_SIZE)), "total": total, "filter": wanted,
        "languages": languages, "categories": categories, "statuses": ARTICLE_STATUSES,
        "query": query + "&", "filtered": bool(q or wanted.language or wanted.category or wanted.status),
    })


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article(request: Request, article_id: DbId, container: ContainerDep, _: SessionDep) -> HTMLResponse:
    """One article and everywhere it went: feeds, editions with their counts, partner pushes."""
    found = container.article_reader.by_id(article_id)
    if found is None:
        raise HTTPException(404, f"no article with id {article_id}")
    base = container.settings.base_url
    return render(request, "admin/article.html", {
        "article": found, "events": container.event_log.of_article(article_id), "now": container.now(),
        "feeds": [spec.url(base, fmt) for spec in specs_of(found) for fmt in FeedFormat]
        if found.is_published else [],
        "editions": container.digest_reads.editions_with_article(article_id, found.published_at),
        "pushes": container.partner_reads.pushes_of_article(article_id), "states": STATES,
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
def unpublish_article(
    request: Request, article_id: DbId, container: ContainerDep, _: CsrfDep,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Unpublish from the dashboard after confirmation, then show the article again."""
    from syndicate.web.admin.confirm import ask, is_confirmed  # confirm renders through this module

    if not is_confirmed(confirm):
        found = container.article_reader.by_id(article_id)
        if found is None:
            raise HTTPException(404, f"no article with id {article_id}")
        return ask(request, title=f"Unpublish “{found.title}”?",
                   message=("It leaves every feed, page and sitemap (its page answers 410 Gone), and "
                            "partners are told. Mail already sent stays sent."),
                   button="Yes, unpublish", back=f"/admin/articles/{article_id}")
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
