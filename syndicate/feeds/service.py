"""Building feeds: which feeds to rebuild for an article, and writing each of their documents."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from syndicate.domain.articles import Article
from syndicate.domain.commands import PingHub
from syndicate.errors import ConfigError, FeedNotFound
from syndicate.feeds.archive import cut_pages, pages_holding
from syndicate.feeds.builder import FeedHead, render_atom, render_rss
from syndicate.feeds.folder import FeedFolder
from syndicate.feeds.jsonfeed import render_json
from syndicate.feeds.model import (
    SITE,
    FeedFormat,
    FeedPath,
    FeedSpec,
    Scope,
    feed_spec,
    feed_updated,
    key_of,
    specs_of,
)
from syndicate.feeds.ports import ArchivePage, FeedOutput, FeedUnitOfWork, Locks
from syndicate.feeds.sitemaps import (
    MAX_URLS,
    NEWS_SITEMAP_FILE,
    SITEMAP_FILE,
    render_news_sitemap,
    render_sitemap,
)
from syndicate.services.media import with_available_images
from syndicate.services.ports import TaskQueue, Telemetry
from syndicate.settings import Settings

log = logging.getLogger(__name__)

RENDERERS: dict[FeedFormat, Callable[[FeedHead, list[Article]], bytes]] = {
    FeedFormat.RSS: render_rss,
    FeedFormat.ATOM: render_atom,
    FeedFormat.JSON: render_json,
}
ARCHIVE_FORMATS = (FeedFormat.RSS, FeedFormat.ATOM)


@dataclass
class BuildResult:
    """What a build wrote: every path it considered, and the feed URLs whose bytes changed."""

    paths: list[Path] = field(default_factory=list)
    changed: list[Path] = field(default_factory=list)
    changed_urls: list[str] = field(default_factory=list)

    def merge(self, other: BuildResult) -> None:
        """Add another result's paths and URLs to this one."""
        self.paths += other.paths
        self.changed += other.changed
        self.changed_urls += other.changed_urls


def feeds_root(settings: Settings) -> Path:
    """Where feeds live by default: PUBLIC_DIR/feeds, so /feeds/... maps onto the folder."""
    return settings.public_path / "feeds"


class FeedService:
    """Builds the feeds of one output (a folder, or the database store) from the stored articles."""

    def __init__(
        self, settings: Settings, uow: Callable[[], FeedUnitOfWork], locks: Locks, root: Path | FeedOutput,
        *, now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if settings.feed_items < 1:
            raise ConfigError(f"FEED_ITEMS must be at least 1, got {settings.feed_items}")
        if settings.feed_archive_size < 1:
            raise ConfigError(f"FEED_ARCHIVE_SIZE must be at least 1, got {settings.feed_archive_size}")
        self.settings = settings
        self.uow = uow
        self.locks = locks
        self.folder: FeedOutput = FeedFolder(root) if isinstance(root, Path) else root
        self.now = now
        # A page never holds more than the subscription feed, so the feed covers everything after it.
        self.page_size = min(settings.feed_archive_size, settings.feed_items)

    def head(self, spec: FeedSpec, fmt: FeedFormat, page: int | None = None, *,
             links: tuple[tuple[str, str], ...] = ()) -> FeedHead:
        """The head of one document: titles, self/site URLs, hubs, RFC 5005 links."""
        s = self.settings
        title = s.site_title
        if spec.scope is Scope.CATEGORY:
            title = f"{s.site_title}: {spec.value}"
        elif spec.scope is Scope.LANGUAGE:
            title = f"{s.site_title} ({spec.value})"
        if page is not None:
            title = f"{title}, archive {page}"
        self_url = spec.url(s.base_url, fmt, page)
        return FeedHead(
            title=title,
            subtitle=s.site_subtitle or f"Latest articles from {title}",
            site_url=f"{s.base_url}/",
            self_url=self_url,
            feed_id=self_url,
            author=s.site_title,
            base_url=s.base_url,
            media_type=fmt.media_type.split(";")[0],
            language=spec.value if spec.scope is Scope.LANGUAGE else s.site_language,
            hubs=tuple(s.websub_hubs) if page is None else (),
            archive_links=links,
            is_archive=page is not None,
        )

    def build(
        self, spec: FeedSpec, *, touched: Iterable[Article] = (), all_pages: bool = False
    ) -> BuildResult:
        """Rebuild one feed in every format, its new archive pages and the pages `touched` is on.

        Holds the feed's lock from the database read to the last rename: the `Locks` port (a
        PostgreSQL advisory lock) for workers on any host, and a file lock for processes on this
        one. A category or language feed with no article left is removed.
        """
        with (self.locks.hold(f"feed-build:{spec.key}"), self.folder.lock(spec),
              self.uow() as uow):
            articles = uow.articles.newest(spec, self.settings.feed_items)
            if not articles and spec.scope is not Scope.SITE:
                for fmt in FeedFormat:
                    self.folder.remove(spec.relpath(fmt))
                return BuildResult()
            new_pages = cut_pages(uow, spec, self.page_size)
            uow.commit()
            count = uow.archive.count(spec)
            due = set(new_pages)
            if new_pages and new_pages[0] > 1:
                due.add(new_pages[0] - 1)  # gains its next-archive link
            for article in touched:
                due |= pages_holding(uow, spec, key_of(article))
            pages = uow.archive.numbered(spec, None if all_pages else due)
            result = self._write_subscription(spec, articles, count)
            for page in pages:
                result.merge(self._write_page(spec, page, count, uow))
        return result

    def _write_subscription(self, spec: FeedSpec, articles: list[Article], pages: int) -> BuildResult:
        # Photos named by a pasted text whose files never arrived: no enclosure pointing at a 404.
        articles = with_available_images(articles, self.settings)
        result = BuildResult()
        updated = feed_updated(articles)
        for fmt in FeedFormat:
            links: tuple[tuple[str, str], ...] = ()
            if pages and fmt in ARCHIVE_FORMATS:
                links = (("prev-archive", spec.url(self.settings.base_url, fmt, pages)),)
            data = RENDERERS[fmt](self.head(spec, fmt, links=links), articles)
            relpath = spec.relpath(fmt)
            result.paths.append(self.folder.path(relpath))
            if self.folder.write(relpath, data, updated):
                result.changed.append(self.folder.path(relpath))
                result.changed_urls.append(spec.url(self.settings.base_url, fmt))
        return result

    def _write_page(self, spec: FeedSpec, page: ArchivePage, pages: int, uow: FeedUnitOfWork) -> BuildResult:
        result = BuildResult()
        articles = with_available_images(uow.articles.between(spec, page.lower_bound, page.last),
                                         self.settings)
        base, n = self.settings.base_url, page.number
        for fmt in ARCHIVE_FORMATS:
            links = [("current", spec.url(base, fmt))]
            if n > 1:
                links.append(("prev-archive", spec.url(base, fmt, n - 1)))
            if n < pages:
                links.append(("next-archive", spec.url(base, fmt, n + 1)))
            data = RENDERERS[fmt](self.head(spec, fmt, n, links=tuple(links)), articles)
            relpath = spec.relpath(fmt, n)
            result.paths.append(self.folder.path(relpath))
            if self.folder.write(relpath, data, feed_updated(articles)):
                result.changed.append(self.folder.path(relpath))
        return result

    def rebuild_article(self, article_id: int) -> BuildResult:
        """Rebuild the feeds the article is in now and those it was in at its last rebuild.

        Idempotent: running it twice writes nothing the second time. Memberships are recorded
        after the files, so a crash in between only repeats work on the retry.
        """
        with self.uow() as uow:
            article = uow.articles.get(article_id)
            previous = uow.memberships.of(article_id)
        # An unpublished article's feeds (and, through `touched`, the archive page that held it)
        # are written again without it; afterwards it is a member of nothing.
        specs = specs_of(article) if article else []
        specs += [spec for spec in previous if spec not in specs]
        touched = [article] if article else []
        result = BuildResult()
        for spec in specs:
            result.merge(self.build(spec, touched=touched))
        with self.uow() as uow:
            uow.memberships.replace(article_id, specs_of(article) if article and article.is_published else [])
            uow.commit()
        self.write_sitemaps()  # not in the result: no feed URL, nothing to ping
        return result

    def write_sitemaps(self) -> BuildResult:
        """Write sitemap.xml and sitemap-news.xml next to the feeds (served at the site root)."""
        with self.locks.hold("feed-build:sitemaps"), self.uow() as uow:
            articles = uow.articles.newest(SITE, MAX_URLS)
            s, now = self.settings, self.now()
            documents = {
                SITEMAP_FILE: render_sitemap(s.base_url, articles),
                NEWS_SITEMAP_FILE: render_news_sitemap(s.base_url, s.site_title, articles, now=now),
            }
            result = BuildResult()
            for name, data in documents.items():
                result.paths.append(self.folder.path(name))
                if self.folder.write(name, data, now):
                    result.changed.append(self.folder.path(name))
        return result

    def all_specs(self) -> list[FeedSpec]:
        """Every feed a full build writes: the site, each category, each language in use."""
        with self.uow() as uow:
            categories, languages = uow.articles.categories(), uow.articles.languages()
        specs = [SITE]
        for scope, values in ((Scope.CATEGORY, categories), (Scope.LANGUAGE, languages)):
            for value in sorted(set(values)):
                try:
                    specs.append(feed_spec(scope.value, value))
                except FeedNotFound:
                    continue
        return specs

    def build_all(
        self,
        progress: Callable[[FeedSpec], None] | None = None,
        *,
        all_pages: bool = True,
        specs: Sequence[FeedSpec] | None = None,
    ) -> BuildResult:
        """Build every feed that has articles (and the site feed always) with every archive page.

        `specs` (from `all_specs()`) saves reading them again; `all_pages=False` writes only the
        pages cut or due now (the state is the same; older page files are left as they are).
        """
        result = BuildResult()
        for spec in self.all_specs() if specs is None else specs:
            result.merge(self.build(spec, all_pages=all_pages))
            if progress:
                progress(spec)
        self.write_sitemaps()  # not in the result: no feed URL, nothing to ping
        return result

    def exists(self, spec: FeedSpec) -> bool:
        """True when the feed has articles (the site feed always exists)."""
        if spec.scope is Scope.SITE:
            return True
        with self.uow() as uow:
            return uow.articles.has_any(spec)

    def build_on_request(self, requested: FeedPath) -> bool:
        """Build a feed a request found unbuilt (a fresh install); False, building nothing, for an
        archive page (only rebuilds cut those) or a feed without articles."""
        if requested.archive_page is not None or not self.exists(requested.spec):
            return False
        self.build(requested.spec)
        return True


def rebuild_article_feeds(
    service: FeedService, article_id: int, *, tasks: TaskQueue, telemetry: Telemetry | None = None,
) -> BuildResult:
    """Rebuild the article's feeds, then queue one WebSub ping per hub and per feed URL that changed;
    the rebuild's duration goes to `telemetry` as the gauge `feed_build_seconds`.

    Identical bytes change no URL, so a repeated rebuild pings nobody.
    """
    started = time.monotonic()
    result = service.rebuild_article(article_id)
    if telemetry is not None:
        telemetry.gauge("feed_build_seconds", time.monotonic() - started)
    for url in result.changed_urls:
        for hub in service.settings.websub_hubs:
            tasks.submit(PingHub(hub, url))
    return result
