"""The ASGI application: public pages, feeds, the admin API."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from syndicate.bootstrap import Container
from syndicate.web import api, public
from syndicate.web.templating import make_templates


def create_app(container: Container) -> FastAPI:
    """An app bound to `container`; nothing global, so tests can build several."""
    app = FastAPI(title="syndicate", version="0.1.0")
    app.state.container = container
    app.state.templates = make_templates()
    app.include_router(public.router)
    app.include_router(api.router)
    media = container.settings.var_dir / "media"
    media.mkdir(parents=True, exist_ok=True)
    app.mount("/media", StaticFiles(directory=media), name="media")
    return app
