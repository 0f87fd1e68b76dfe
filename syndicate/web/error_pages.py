"""Error answers for people: an HTML page for browsers on the site's pages, JSON for API clients.

A request gets HTML when it accepts `text/html` and its path is one of the pages a person opens
(`/news…`, `/subscribe`, `/preferences/…`, `/admin…`, `/editions/…`); everything else (the JSON
API, feeds, scripts sending `Accept: */*`) keeps the JSON body `{"detail": …}`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from syndicate.web.templating import i18n_context, request_language

PAGE_PREFIXES = ("/news", "/subscribe", "/preferences/", "/admin", "/editions/", "/unsubscribe/", "/confirm/")

TITLES = {
    400: "This request does not work",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed here",
    410: "This page was removed",
    413: "Too large",
    422: "Something in the request is wrong",
    429: "Too many requests",
}

HINTS = {
    404: "The address may be mistyped, or the page moved.",
    410: "It was published here once and has since been withdrawn.",
}


def wants_html(request: Request) -> bool:
    """True when a browser asks for one of the site's pages (not the API, not a feed)."""
    path = request.url.path
    if not any(path == p.rstrip("/") or path.startswith(p) for p in PAGE_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def error_page(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """The site's error page with `status`, a title for it and the message saying what went wrong."""
    page = i18n_context(request_language(request))
    _ = page["_"]
    context: dict[str, Any] = {
        **page, "status": status, "title": _(TITLES.get(status, "Something went wrong")), "message": message,
        "hint": _(HINTS[status]) if status in HINTS else "",
        "base_url": request.app.state.container.settings.base_url,
    }
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, "errors/error.html", context, status_code=status, headers=headers)
    return response


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(x) for x in error.get("loc", ()) if x not in ("path", "query", "body"))
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    return "; ".join(parts) or "the request is not valid"


def http_error(request: Request, exc: Exception) -> Response:
    """HTTPException: the page for browsers, Starlette's own JSON for everyone else."""
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    headers = dict(exc.headers or {})
    if wants_html(request):
        return error_page(request, exc.status_code, str(exc.detail), headers)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=headers)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


def validation_error(request: Request, exc: Exception) -> Response:
    """A request that fails validation: 422 as a page for browsers, FastAPI's JSON for clients."""
    if not isinstance(exc, RequestValidationError):  # registered for RequestValidationError only
        raise exc
    if wants_html(request):
        return error_page(request, 422, _validation_message(exc))
    return JSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
