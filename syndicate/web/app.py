"""The ASGI application: public pages, feeds, the admin API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from syndicate.bootstrap import Container
from syndicate.errors import SyndicateError, http_status
from syndicate.resources import static_dir
from syndicate.storage.db import as_unavailable
from syndicate.web import (
    admin_api,
    articles_api,
    editions_page,
    error_pages,
    feeds,
    imports_api,
    metrics,
    openapi,
    partners_api,
    public,
    reports_api,
    sitemaps,
)
from syndicate.web import subscribe as subscribe_routes
from syndicate.web.admin import editions as admin_editions
from syndicate.web.admin import failures as admin_failures
from syndicate.web.admin import imports as admin_imports
from syndicate.web.admin import lists as admin_lists
from syndicate.web.admin import outbox as admin_outbox
from syndicate.web.admin import partners as admin_partners
from syndicate.web.admin import subscribers as admin_subscribers
from syndicate.web.admin import views as admin_views
from syndicate.web.admin.session import CsrfRejected, NeedsLogin
from syndicate.web.error_pages import error_page, wants_html
from syndicate.web.jobs import JobRegistry
from syndicate.web.security import AdminHeaders
from syndicate.web.templating import make_templates


def _needs_login(request: Request, exc: Exception) -> Response:
    # Browsers asking for a page go to the sign-in form; anything else gets a plain 401.
    if request.method in ("GET", "HEAD") and "text/html" in request.headers.get("accept", ""):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/admin/login?next={quote(target, safe='/')}", status_code=303)
    return JSONResponse({"detail": "sign in at /admin/login or send 'Authorization: Bearer <ADMIN_TOKEN>'"},
                        status_code=401, headers={"WWW-Authenticate": "Bearer"})


def _csrf_rejected(request: Request, exc: Exception) -> Response:
    if wants_html(request):
        return error_page(request, 403, str(exc))
    return JSONResponse({"detail": str(exc)}, status_code=403)


def _named_error(request: Request, exc: Exception) -> Response:
    # Any named error a route lets through: the status errors.ERROR_CODES gives, and the field
    # when the error names one.
    if not isinstance(exc, SyndicateError):  # registered for SyndicateError only
        raise exc
    if wants_html(request):
        return error_page(request, http_status(exc), str(exc))
    body: dict[str, object] = {"detail": str(exc)}
    field = getattr(exc, "field", None)
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=http_status(exc))


def _outage(request: Request, exc: Exception) -> Response:
    # The last resort for unexpected errors: a database outage is a 503 saying so, anything
    # else stays a plain 500 (logged by the server).
    outage = as_unavailable(exc)
    if outage is None:
        return JSONResponse({"detail": "internal server error"}, status_code=500)
    return JSONResponse({"detail": str(outage)}, status_code=http_status(outage),
                        headers={"Retry-After": "5"})


def create_app(container: Container) -> FastAPI:
    """An app bound to `container`; nothing global, so tests can build several."""
    jobs = JobRegistry()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.stop_all()  # background imports run in child processes: terminate them, do not wait

    # /docs and /redoc load Swagger UI and ReDoc from fastapi-offline's files under /docs-assets:
    # the API documentation works without a CDN (offline, or behind a strict proxy).
    app = FastAPIOffline(title="syndicate", version="0.1.0", lifespan=lifespan, static_url="/docs-assets")
    app.state.container = container
    app.state.jobs = jobs
    app.state.templates = make_templates()
    app.state.templates.env.globals["site_title"] = container.settings.site_title
    app.include_router(public.router)
    app.include_router(sitemaps.router)
    app.include_router(metrics.router)
    app.include_router(subscribe_routes.router)
    app.include_router(editions_page.router)
    app.include_router(articles_api.router)
    app.include_router(imports_api.router)
    app.include_router(admin_api.router)
    app.include_router(reports_api.router)
    app.include_router(admin_views.router)
    app.include_router(admin_outbox.router)
    app.include_router(admin_editions.router)
    app.include_router(admin_partners.router)
    app.include_router(admin_failures.router)
    app.include_router(admin_imports.router)  # before /admin/subscribers/{id}
    app.include_router(admin_subscribers.router)
    app.include_router(admin_lists.router)
    app.add_exception_handler(StarletteHTTPException, error_pages.http_error)
    app.add_exception_handler(RequestValidationError, error_pages.validation_error)
    app.add_exception_handler(NeedsLogin, _needs_login)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    app.add_exception_handler(SyndicateError, _named_error)
    app.add_exception_handler(Exception, _outage)
    app.include_router(partners_api.router)
    media = container.settings.var_dir / "media"
    media.mkdir(parents=True, exist_ok=True)
    app.add_middleware(feeds.FeedsFirst, files=feeds.make_feed_app(container))
    app.mount("/media", StaticFiles(directory=media), name="media")
    app.mount("/static", StaticFiles(directory=static_dir()), name="static")
    app.add_middleware(AdminHeaders)
    openapi.install(app)
    return app
