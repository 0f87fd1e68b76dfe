"""/robots.txt, /sitemap.xml and /sitemap-news.xml: the files the feed service writes next to
the feeds, served with a strong ETag; built once on request when no build has written them yet."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from syndicate.feeds.service import feeds_root
from syndicate.feeds.sitemaps import NEWS_SITEMAP_FILE, SITEMAP_FILE
from syndicate.web.deps import ContainerDep

router = APIRouter()
CACHE_CONTROL = "public, max-age=300"


def _serve(request: Request, container: ContainerDep, name: str) -> Response:
    root = feeds_root(container.settings)
    path = root / name
    if not path.is_file():
        container.feed_service(root).write_sitemaps()  # a fresh install: no build ran yet
    body = path.read_bytes()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    match = request.headers.get("if-none-match", "")
    if etag in (tag.strip().removeprefix("W/") for tag in match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/xml", headers=headers)


@router.get("/sitemap.xml", include_in_schema=False)
def sitemap(request: Request, container: ContainerDep) -> Response:
    """Every public page: the home page, /news and each published article."""
    return _serve(request, container, SITEMAP_FILE)


@router.get("/sitemap-news.xml", include_in_schema=False)
def news_sitemap(request: Request, container: ContainerDep) -> Response:
    """The Google News sitemap: articles published in the last 48 hours."""
    return _serve(request, container, NEWS_SITEMAP_FILE)


@router.get("/robots.txt", include_in_schema=False, response_class=PlainTextResponse)
def robots(container: ContainerDep) -> str:
    """Crawlers may read everything but the admin, and find both sitemaps here."""
    base = container.settings.base_url
    return (f"User-agent: *\nDisallow: /admin/\nDisallow: /api/\n\n"
            f"Sitemap: {base}/{SITEMAP_FILE}\nSitemap: {base}/{NEWS_SITEMAP_FILE}\n")
