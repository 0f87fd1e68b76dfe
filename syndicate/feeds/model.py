"""What a feed is: its scope (site, category, language), its formats, paths and public URLs."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from syndicate.domain.articles import Article
from syndicate.domain.languages import parse_language
from syndicate.domain.slugs import is_slug
from syndicate.errors import FeedNotFound

# Characters XML 1.0 forbids; ingestion strips them already, feeds guard again (lxml raises late).
_XML_FORBIDDEN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The ordering key of an article in every feed and archive page: (published_at, id).
Key = tuple[datetime, int]


class FeedFormat(enum.Enum):
    """The three formats every feed is written in: file name and media type."""

    RSS = ("rss.xml", "application/rss+xml; charset=utf-8")
    ATOM = ("atom.xml", "application/atom+xml; charset=utf-8")
    JSON = ("feed.json", "application/feed+json; charset=utf-8")

    @property
    def filename(self) -> str:
        """The file name under the feed's folder."""
        return self.value[0]

    @property
    def media_type(self) -> str:
        """The Content-Type the file is served with."""
        return self.value[1]

    @classmethod
    def from_filename(cls, name: str) -> FeedFormat | None:
        """The format written to `name`, or None."""
        return next((f for f in cls if f.filename == name), None)


class Scope(enum.StrEnum):
    """What a feed holds: the whole site, one category or one language (the URL's first segment)."""

    SITE = "site"
    CATEGORY = "category"
    LANGUAGE = "lang"


@dataclass(frozen=True, order=True)
class FeedSpec:
    """One feed (in all its formats): the whole site, one category or one language."""

    scope: Scope
    value: str = ""

    @property
    def key(self) -> str:
        """Stable identifier used in the database: 'site', 'category:world', 'lang:ru'."""
        return "site" if self.scope is Scope.SITE else f"{self.scope.value}:{self.value}"

    @property
    def folder(self) -> str:
        """Folder relative to the feeds root: '', 'category/world', 'lang/ru'."""
        return "" if self.scope is Scope.SITE else f"{self.scope.value}/{self.value}"

    def relpath(self, fmt: FeedFormat, archive_page: int | None = None) -> str:
        """Path of one file relative to the feeds root (what follows /feeds/)."""
        parts = [self.folder] if self.folder else []
        if archive_page is not None:
            parts += ["archive", str(archive_page)]
        return "/".join([*parts, fmt.filename])

    def url(self, base_url: str, fmt: FeedFormat, archive_page: int | None = None) -> str:
        """The public absolute URL of one file."""
        return f"{base_url}/feeds/{self.relpath(fmt, archive_page)}"

    @classmethod
    def from_key(cls, key: str) -> FeedSpec:
        """Inverse of `key`; raises FeedNotFound for a malformed key."""
        if key == "site":
            return SITE
        scope, _, value = key.partition(":")
        return feed_spec(scope, value)


SITE = FeedSpec(Scope.SITE)


def feed_spec(scope: str, value: str) -> FeedSpec:
    """A category or language feed; raises FeedNotFound when the slug or code is malformed."""
    if scope == Scope.CATEGORY.value and is_slug(value):
        return FeedSpec(Scope.CATEGORY, value)
    language = parse_language(value) if scope == Scope.LANGUAGE.value else None
    if language is not None:
        # One feed per language, whatever the spelling asked for ('en-us' is 'en-US').
        return FeedSpec(Scope.LANGUAGE, language)
    raise FeedNotFound(f"{scope}/{value}")


def specs_of(article: Article) -> list[FeedSpec]:
    """Every feed the article belongs to: the site, each of its categories, its language."""
    specs = [SITE]
    specs += [FeedSpec(Scope.CATEGORY, c) for c in dict.fromkeys(article.categories) if is_slug(c)]
    language = parse_language(article.language)
    if language is not None:
        specs.append(FeedSpec(Scope.LANGUAGE, language))
    return specs


@dataclass(frozen=True)
class FeedPath:
    """A parsed request path under /feeds/: which feed, which format, which archive page."""

    spec: FeedSpec
    fmt: FeedFormat
    archive_page: int | None = None


def parse_path(relpath: str) -> FeedPath:
    """Parse 'category/world/atom.xml' or 'archive/3/rss.xml'; raises FeedNotFound otherwise."""
    parts = relpath.split("/")
    fmt = FeedFormat.from_filename(parts[-1])
    if fmt is None:
        raise FeedNotFound(relpath)
    head = parts[:-1]
    page: int | None = None
    if len(head) >= 2 and head[-2] == "archive":
        if fmt is FeedFormat.JSON or not head[-1].isdigit() or head[-1].startswith("0"):
            raise FeedNotFound(relpath)
        page = int(head[-1])
        head = head[:-2]
    if not head:
        return FeedPath(SITE, fmt, page)
    if len(head) == 2:
        return FeedPath(feed_spec(head[0], head[1]), fmt, page)
    raise FeedNotFound(relpath)


def key_of(article: Article) -> Key:
    """The ordering key of an article in every feed: (published_at, id)."""
    return (article.published_at, article.id)


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 forbids."""
    return _XML_FORBIDDEN.sub("", text)


def aware_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive value is taken to be UTC already (the storage convention)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def feed_updated(articles: list[Article]) -> datetime:
    """The feed's update time: the newest item's update time (the epoch for an empty feed)."""
    return max((aware_utc(a.updated_at) for a in articles), default=EPOCH)
