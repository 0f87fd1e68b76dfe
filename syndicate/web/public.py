"""Public pages: the news list, one article, and the health check."""

from __future__ import annotations

import math

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from syndicate import i18n
from syndicate.errors import BrokerUnavailable
from syndicate.services.media import missing_images
from syndicate.storage import db
from syndicate.web.deps import ContainerDep
from syndicate.web.metrics import SCHEDULER, scheduler_health
from syndicate.web.templating import i18n_context, request_language

router = APIRouter()


@router.get("/news", response_class=HTMLResponse)
def news_list(
    request: Request, container: ContainerDep, page: int = Query(1, ge=1, le=100000)
) -> HTMLResponse:
    """Articles newest first, paginated."""
    size = container.settings.news_page_size
    reader = container.article_reader
    total = reader.count()
    articles = reader.newest(limit=size, offset=(page - 1) * size)
    pages = max(1, math.ceil(total / size))
    if page > pages:
        raise HTTPException(404, f"page {page} does not exist; there are {pages}")
    return request.app.state.templates.TemplateResponse(
        request,
        "news/list.html",
        {"articles": articles, "page": page, "pages": pages, "base_url": container.settings.base_url,
         **i18n_context(request_language(request))},
    )


@router.get("/news/{slug}", response_class=HTMLResponse)
def news_article(request: Request, slug: str, container: ContainerDep) -> HTMLResponse:
    """One article's public page: what every feed item and email links to, linking the other
    published languages of its story."""
    article = container.article_reader.by_slug(slug, include_unpublished=True)
    if article is None:
        raise HTTPException(404, f"no article with slug {slug!r}")
    if not article.is_published:
        raise HTTPException(410, f"the article {slug!r} was unpublished")
    settings = container.settings
    # Its other languages: hreflang alternates in the head and the visible language switcher.
    [article] = container.stories.with_translations([article], now=container.now())
    # Photos named in a pasted .txt whose files were never uploaded get a placeholder, not a
    # broken image.
    missing = missing_images(article, settings)
    return request.app.state.templates.TemplateResponse(
        request,
        "news/article.html",
        {"article": article, "base_url": settings.base_url, "missing_images": missing,
         "language_name": i18n.language_name, **i18n_context(request_language(request))},
    )


@router.get("/healthz")
def healthz(container: ContainerDep) -> JSONResponse:
    """200 when the database and the broker answer, else 503 naming the one that did not.

    `scheduler` is 'ok' or 'stale' (beat or every worker gone: sweeps, retries and scheduled
    editions wait); a stale scheduler alone keeps the 200, since the API itself works.
    """
    checks: dict[str, str] = {}
    try:
        db.ping(container.engine)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        container.tasks.ping()
        checks["broker"] = "ok"
    except BrokerUnavailable as exc:
        checks["broker"] = f"error: {exc}"
    healthy = all(v == "ok" for v in checks.values())
    body: dict[str, object] = {"status": "ok" if healthy else "unavailable", **checks}
    if checks["database"] == "ok":
        scheduler = scheduler_health(container.telemetry.last_seen(SCHEDULER), now=container.now(),
                                     sweep_seconds=container.settings.outbox_sweep_seconds)
        body["scheduler"] = scheduler.state
        body["scheduler_last_seen_seconds"] = (None if scheduler.last_seen_s is None
                                               else round(scheduler.last_seen_s, 1))
        if scheduler.state == "stale":
            body["scheduler_note"] = (
                f"the scheduler has not run the outbox relay within {scheduler.limit_s:.0f} s "
                "(is `syndicate worker --with-beat`, or beat and a worker, running?): sweeps, "
                "retries and scheduled editions wait; the API itself works, so this stays 200")
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    """The site's front page is the news list."""
    return RedirectResponse("/news", status_code=307)
