"""Serving /feeds/... from the built documents: conditional GET, gzip, HEAD; never rebuilt per request.

A plain ASGI app (mounted at /feeds) rather than a FastAPI route: per request it answers from an
in-memory copy (bytes, gzip bytes, ETags) of the document, checked against its source (a folder,
or the database store shared by every serve node; see `feed_sources.py`). ETags are a hash of the
bytes, so identical builds give identical ETags on every node; the gzip variant has its own strong
ETag (`"…-gz"`), and every answer says `Vary: Accept-Encoding`.
"""

from __future__ import annotations

import logging
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from syndicate.errors import FeedNotFound
from syndicate.feeds.model import FeedPath, parse_path
from syndicate.feeds.service import feeds_root
from syndicate.web.feed_sources import (
    DocumentSource,
    FolderSource,
    Representation,
    StoreSource,
    bounded_put,
)

if TYPE_CHECKING:
    from syndicate.bootstrap import Container

CACHE_CONTROL = b"public, max-age=300"


class OnDemandBuilder(Protocol):
    """What serving needs of the feed service (`FeedService`)."""

    def build_on_request(self, requested: FeedPath) -> bool:
        """Build a feed nobody built yet; False, building nothing, when it must not be built."""


def _accepts_gzip(value: bytes) -> bool:
    for part in value.decode("latin-1").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            q = params.strip()
            return not (q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"))
    return False


def _etag_matches(header: bytes, etag: bytes) -> bool:
    # If-None-Match uses the weak comparison: W/"x" matches "x".
    for tag in header.split(b","):
        tag = tag.strip()
        if tag == b"*" or tag.removeprefix(b"W/") == etag:
            return True
    return False


def _not_modified_since(header: bytes, mtime: int) -> bool:
    try:
        since = parsedate_to_datetime(header.decode("latin-1"))
    except (TypeError, ValueError, IndexError):
        return False
    return since.tzinfo is not None and mtime <= since.timestamp()


class FeedFiles:
    """ASGI app serving the feeds (a folder, or a `DocumentSource`); builds a missing feed once
    when its scope exists."""

    def __init__(self, service: OnDemandBuilder, source: Path | DocumentSource) -> None:
        self.service = service
        self.source: DocumentSource = FolderSource(source) if isinstance(source, Path) else source
        # Parsed request paths; only valid ones are kept, so the dict is bounded by the feeds.
        self.paths: dict[str, FeedPath] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await _plain(send, 405, b"method not allowed\n", [(b"allow", b"GET, HEAD")])
            return
        relpath, root_path = scope["path"], scope.get("root_path", "")
        if root_path and relpath.startswith(root_path):
            relpath = relpath[len(root_path):]
        relpath = relpath.lstrip("/")
        if not root_path.endswith("/feeds") and relpath.startswith("feeds/"):
            relpath = relpath[len("feeds/"):]
        parsed = self.paths.get(relpath)
        if parsed is None:
            try:
                parsed = parse_path(relpath)
            except FeedNotFound as exc:
                await _plain(send, 404, f"{exc}\n".encode())
                return
            bounded_put(self.paths, relpath, parsed)
        rep = self.source.peek(relpath)
        if rep is None:
            rep = await run_in_threadpool(self._current_or_built, relpath, parsed)
        if rep is None:
            await _plain(send, 404, f"feed {relpath!r} does not exist\n".encode())
            return
        await self._answer(scope, send, rep, method == "HEAD")

    def _current_or_built(self, relpath: str, parsed: FeedPath) -> Representation | None:
        rep = self.source.load(relpath)
        # Fresh install: the worker has not built this feed yet.
        if rep is None and self.service.build_on_request(parsed):
            rep = self.source.load(relpath)
        return rep

    async def _answer(self, scope: Scope, send: Send, rep: Representation, head_only: bool) -> None:
        headers = dict(scope["headers"])
        use_gzip = rep.gzipped is not None and _accepts_gzip(headers.get(b"accept-encoding", b""))
        etag = rep.etag_gz if use_gzip else rep.etag
        out: list[tuple[bytes, bytes]] = [
            (b"etag", etag),
            (b"last-modified", rep.last_modified),
            (b"cache-control", CACHE_CONTROL),
            (b"vary", b"Accept-Encoding"),
        ]
        inm = headers.get(b"if-none-match")
        ims = headers.get(b"if-modified-since")
        if (inm is not None and _etag_matches(inm, etag)) or (
            inm is None and ims is not None and _not_modified_since(ims, rep.mtime)
        ):
            await send({"type": "http.response.start", "status": 304, "headers": out})
            await send({"type": "http.response.body", "body": b""})
            return
        body = rep.gzipped if use_gzip and rep.gzipped is not None else rep.body
        out.append((b"content-type", rep.media_type))
        out.append((b"content-length", str(len(body)).encode()))
        if use_gzip:
            out.append((b"content-encoding", b"gzip"))
        await send({"type": "http.response.start", "status": 200, "headers": out})
        await send({"type": "http.response.body", "body": b"" if head_only else body})


async def _lifespan(receive: Receive, send: Send) -> None:
    # Served on its own (not behind FeedsFirst), the app has nothing to start or stop.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _plain(
    send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class FeedsFirst:
    """ASGI middleware answering /feeds/... itself, ahead of FastAPI's routing and dependencies.

    Feeds are the most polled URLs; skipping the router, the exception middleware and request
    objects roughly doubles the rate one process serves. Every other path goes to `app`.
    """

    def __init__(self, app: ASGIApp, files: FeedFiles) -> None:
        self.app = app
        self.files = files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/feeds/"):
            await self.files(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class QuietFeedPolls(logging.Filter):
    """Drops uvicorn access-log lines of successful feed polls (200/304); errors stay logged.

    Aggregators poll feeds far more than anything else is requested; formatting and writing one
    line per poll costs about 40% of the rate one process serves (FEEDS_ACCESS_LOG=true keeps them).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            path, status = args[2], args[4]
            return not (isinstance(path, str) and path.startswith("/feeds/") and status in (200, 304))
        return True


def quiet_feed_polls() -> None:
    """Install QuietFeedPolls on uvicorn's access logger once (it survives uvicorn's dictConfig)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QuietFeedPolls) for f in access.filters):
        access.addFilter(QuietFeedPolls())


def make_feed_app(container: Container) -> FeedFiles:
    """The /feeds ASGI app for a container: the database store, or PUBLIC_DIR/feeds (FEED_STORE)."""
    if not container.settings.feeds_access_log:
        quiet_feed_polls()
    documents = container.feed_documents
    source = FolderSource(feeds_root(container.settings)) if documents is None else StoreSource(documents)
    return FeedFiles(container.feed_service(), source)
