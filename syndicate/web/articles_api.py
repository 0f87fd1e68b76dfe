"""The article routes of the JSON API (bearer token): create or update, read, unpublish."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from syndicate.domain.articles import article_json
from syndicate.errors import ArticleTooLarge, InvalidArticle
from syndicate.ingest.limits import load_json
from syndicate.services.publishing import Outcome
from syndicate.web.deps import AdminDep, ContainerDep
from syndicate.web.openapi import ARTICLE_BODY
from syndicate.web.security import DbId

router = APIRouter(prefix="/api", dependencies=[AdminDep])


def _invalid(exc: InvalidArticle, status: int) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc), "field": exc.field, "message": exc.message}, status_code=status
    )


@router.post("/articles", openapi_extra={"requestBody": ARTICLE_BODY})
async def create_article(request: Request, container: ContainerDep) -> JSONResponse:
    """Create (201) or update in place by guid (200); 422 names the bad field, 413 when too big."""
    limit = container.settings.max_body_bytes * 2 + 65536
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return _invalid(ArticleTooLarge("(request)", f"is {declared} bytes; too large"), 413)
    raw = await request.body()
    if len(raw) > limit:
        return _invalid(ArticleTooLarge("(request)", f"is {len(raw)} bytes; too large"), 413)
    try:
        data = load_json(raw)
        # Validation, sanitizing and SQL block: off the event loop, so other requests go on.
        result = await run_in_threadpool(container.articles.ingest, data)
    except ArticleTooLarge as exc:
        return _invalid(exc, 413)
    except InvalidArticle as exc:
        return _invalid(exc, 422)
    body = article_json(result.article, container.settings.base_url)
    body["outcome"] = result.outcome.value
    return JSONResponse(body, status_code=201 if result.outcome is Outcome.CREATED else 200)


@router.get("/articles/{article_id}")
def get_article(article_id: DbId, container: ContainerDep) -> dict[str, Any]:
    """One stored article."""
    article = container.article_reader.by_id(article_id)
    if article is None:
        raise HTTPException(404, f"no article with id {article_id}")
    return article_json(article, container.settings.base_url)


@router.delete("/articles/{article_id}")
def unpublish_article(article_id: DbId, container: ContainerDep) -> dict[str, Any]:
    """Unpublish: the article leaves feeds and pages and partners get `article.deleted`."""
    result = container.articles.unpublish(article_id)
    if result is None:
        raise HTTPException(404, f"no article with id {article_id}")
    return article_json(result.article, container.settings.base_url) | {"outcome": result.outcome.value}


@router.post("/articles/{article_id}/release")
def reschedule_article(article_id: DbId, body: dict[str, Any], container: ContainerDep) -> JSONResponse:
    """Move a scheduled article's release time (`{"release_at": RFC 3339}`); 422 when it is public."""
    try:
        result = container.articles.reschedule(article_id, body.get("release_at"))
    except InvalidArticle as exc:
        return _invalid(exc, 422)
    if result is None:
        raise HTTPException(404, f"no article with id {article_id}")
    return JSONResponse(article_json(result.article, container.settings.base_url)
                        | {"outcome": result.outcome.value})
