"""/robots.txt, /sitemap.xml and /sitemap-news.xml: the documents the feed service writes next to
the feeds (files, or the database store: FEED_STORE), served with a strong ETag; built once on
request when no build has written them yet."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from syndicate.feeds.service import feeds_root
from syndicate.feeds.sitemaps import NEWS_SITEMAP_FILE, SITEMAP_FILE
from syndicate.web.deps import ContainerDep

router = APIRouter()
CACHE_CONTROL = "public, max-age=300"


def _stored(container: ContainerDep, name: str) -> tuple[bytes, str] | None:
    """The document's bytes and strong ETag from where FEED_STORE keeps them, or None."""
    if container.feed_documents is not None:
        found = container.feed_documents.get(name)
        return None if found is None else (found[1].body, found[1].etag)
    path = feeds_root(container.settings) / name
    if not path.is_file():
        return None
    body = path.read_bytes()
    return body, f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def _serve(request: Request, container: ContainerDep, name: str) -> Response:
    found = _stored(container, name)
    if found is None:
        container.feed_service().write_sitemaps()  # a fresh install: no build ran yet
        found = _stored(container, name)
    if found is None:
        return Response(status_code=404)
    body, etag = found
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
