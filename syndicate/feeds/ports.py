"""What the feed builder needs of storage, declared by the builder.

`syndicate.storage.feed_store.SqlFeedUnitOfWork` implements the unit of work on the article and
feed tables, `syndicate.storage.locks.AdvisoryLocks` the lock, and
`syndicate.storage.feed_documents.SqlFeedDocuments` the store of built documents; the builder's
unit tests use the fakes in tests/unit/fakes/feeds.py. The builder never sees a database session.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from syndicate.domain.articles import Article
from syndicate.feeds.documents import FeedDocument
from syndicate.feeds.model import FeedSpec, Key
from syndicate.services.ports import Transaction


@dataclass(frozen=True)
class ArchivePage:
    """One full archive page: its number and its fixed key range."""

    number: int
    first: Key
    last: Key

    @property
    def lower_bound(self) -> Key | None:
        """The first key, except for page 1, which also takes articles back-dated before it."""
        return None if self.number == 1 else self.first


class FeedArticles(Protocol):
    """The articles of the feeds, read in (published_at, id) order; unpublished ones are in none."""

    def newest(self, spec: FeedSpec, limit: int) -> list[Article]:
        """The `limit` newest articles of the feed, newest first."""

    def keys_after(self, spec: FeedSpec, after: Key | None, limit: int) -> list[Key]:
        """Keys of up to `limit` articles strictly after `after` (all when None), oldest first."""

    def between(self, spec: FeedSpec, first: Key | None, last: Key) -> list[Article]:
        """Articles with first <= key <= last (no lower bound when None), newest first."""

    def has_any(self, spec: FeedSpec) -> bool:
        """True when at least one article belongs to the feed."""

    def get(self, article_id: int) -> Article | None:
        """One article, published or not, or None when it does not exist (deleted)."""

    def categories(self) -> list[str]:
        """Every category some stored article (published or not) has, each once."""

    def languages(self) -> list[str]:
        """Every language some stored article (published or not) has, each once."""


class ArchivePages(Protocol):
    """The RFC 5005 archive pages cut so far; a page never changes once added."""

    def newest(self, spec: FeedSpec) -> ArchivePage | None:
        """The feed's newest page, or None when it has none yet."""

    def count(self, spec: FeedSpec) -> int:
        """How many pages the feed has."""

    def numbered(self, spec: FeedSpec, numbers: set[int] | None = None) -> list[ArchivePage]:
        """The feed's pages (only `numbers` when given), oldest first."""

    def ending_from(self, spec: FeedSpec, moment: datetime, limit: int) -> list[ArchivePage]:
        """Up to `limit` pages whose last key is published at or after `moment`, by last key."""

    def add(self, spec: FeedSpec, page: ArchivePage, item_count: int) -> None:
        """Record a newly cut page (visible to the next reads of this unit of work)."""


class Memberships(Protocol):
    """Which feeds each article was in at its last rebuild (kept after the article is deleted)."""

    def of(self, article_id: int) -> list[FeedSpec]:
        """The feeds the article was in at its last rebuild."""

    def replace(self, article_id: int, specs: Sequence[FeedSpec]) -> None:
        """Record the feeds the article is in now, replacing the previous record."""


class FeedUnitOfWork(Transaction, Protocol):
    """One transaction over the feed stores; leaving without commit() rolls back."""

    @property
    def articles(self) -> FeedArticles:
        """The article reads inside this transaction."""

    @property
    def archive(self) -> ArchivePages:
        """The archive pages inside this transaction."""

    @property
    def memberships(self) -> Memberships:
        """The feed memberships inside this transaction."""


class Locks(Protocol):
    """Named locks shared by every process and host that builds feeds from the same database."""

    def hold(self, name: str) -> AbstractContextManager[None]:
        """Hold the lock `name` for the block, waiting while another holder has it."""


class FeedDocuments(Protocol):
    """Built documents kept where every serve node reads them (the database), by path under /feeds/.

    Any path is accepted (feeds, archive pages, sitemaps): the store does not interpret it.
    """

    def put(self, document: FeedDocument) -> bool:
        """Store the document, moving its version on; False (nothing written) when it holds these bytes."""

    def delete(self, path: str) -> bool:
        """Remove the document; False when there was none."""

    def stamp(self, path: str) -> str | None:
        """A cheap token that changes whenever the document does; None when there is none."""

    def get(self, path: str) -> tuple[str, FeedDocument] | None:
        """The document with its stamp, or None when there is none."""


class FeedOutput(Protocol):
    """Where the feed service writes built documents: a folder, the database, or both."""

    def write(self, relpath: str, data: bytes, modified: datetime) -> bool:
        """Store `data` at `relpath` (Last-Modified `modified`); False when it already held it."""

    def remove(self, relpath: str) -> bool:
        """Remove the document; False when it did not exist."""

    def path(self, relpath: str) -> Path:
        """Where the document went, for people: a file, or its /feeds/ path when only in the database."""

    def lock(self, spec: FeedSpec) -> AbstractContextManager[None]:
        """Exclusive lock for rebuilding one feed among the processes of this host."""
