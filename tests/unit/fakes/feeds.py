"""In-memory fakes of the feed builder's ports (`syndicate.feeds.ports`): articles, archive pages,
memberships, the unit of work over them, and the named locks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType

from syndicate.domain.articles import Article
from syndicate.feeds.documents import FeedDocument
from syndicate.feeds.model import FeedSpec, Key, Scope, key_of
from syndicate.feeds.ports import ArchivePage


@dataclass
class FeedData:
    """What the database would hold: articles by id, archive pages by feed key, memberships."""

    articles: dict[int, Article] = field(default_factory=dict)
    pages: dict[str, dict[int, ArchivePage]] = field(default_factory=dict)
    memberships: dict[int, list[FeedSpec]] = field(default_factory=dict)
    commits: int = 0

    def put(self, article: Article) -> None:
        """Store (or overwrite) an article, as an import would."""
        self.articles[article.id] = article

    def unpublish(self, article_id: int, when: datetime) -> None:
        """Mark the article unpublished, as the newsroom would."""
        self.articles[article_id] = replace(self.articles[article_id], unpublished_at=when)

    def uow(self) -> FakeFeedUnitOfWork:
        """A unit of work over this data (the factory FeedService takes)."""
        return FakeFeedUnitOfWork(self)


def _in(spec: FeedSpec, article: Article) -> bool:
    if not article.is_published:
        return False
    if spec.scope is Scope.CATEGORY:
        return spec.value in article.categories
    if spec.scope is Scope.LANGUAGE:
        return article.language == spec.value
    return True


class FakeFeedArticles:
    """FeedArticles over a dict, in (published_at, id) order like the SQL queries."""

    def __init__(self, data: FeedData) -> None:
        self.data = data

    def _scoped(self, spec: FeedSpec) -> list[Article]:
        return sorted((a for a in self.data.articles.values() if _in(spec, a)), key=key_of)

    def newest(self, spec: FeedSpec, limit: int) -> list[Article]:
        return self._scoped(spec)[::-1][:limit]

    def keys_after(self, spec: FeedSpec, after: Key | None, limit: int) -> list[Key]:
        keys = [key_of(a) for a in self._scoped(spec)]
        return [k for k in keys if after is None or k > after][:limit]

    def between(self, spec: FeedSpec, first: Key | None, last: Key) -> list[Article]:
        return [a for a in self._scoped(spec)[::-1]
                if key_of(a) <= last and (first is None or key_of(a) >= first)]

    def has_any(self, spec: FeedSpec) -> bool:
        return bool(self._scoped(spec))

    def get(self, article_id: int) -> Article | None:
        return self.data.articles.get(article_id)

    def categories(self) -> list[str]:
        return list({c for a in self.data.articles.values() for c in a.categories})

    def languages(self) -> list[str]:
        return list({a.language for a in self.data.articles.values()})


class FakeArchivePages:
    """ArchivePages over a dict; refuses to overwrite a page, as the table's primary key would."""

    def __init__(self, data: FeedData) -> None:
        self.data = data

    def _of(self, spec: FeedSpec) -> dict[int, ArchivePage]:
        return self.data.pages.setdefault(spec.key, {})

    def newest(self, spec: FeedSpec) -> ArchivePage | None:
        pages = self._of(spec)
        return pages[max(pages)] if pages else None

    def count(self, spec: FeedSpec) -> int:
        return max(self._of(spec), default=0)

    def numbered(self, spec: FeedSpec, numbers: set[int] | None = None) -> list[ArchivePage]:
        pages = self._of(spec)
        return [pages[n] for n in sorted(pages) if numbers is None or n in numbers]

    def ending_from(self, spec: FeedSpec, moment: datetime, limit: int) -> list[ArchivePage]:
        pages = sorted((p for p in self._of(spec).values() if p.last[0] >= moment), key=lambda p: p.last)
        return pages[:limit]

    def add(self, spec: FeedSpec, page: ArchivePage, item_count: int) -> None:
        pages = self._of(spec)
        assert page.number not in pages, f"page {page.number} of {spec.key} cut twice"
        pages[page.number] = page


class FakeMemberships:
    """Memberships over a dict."""

    def __init__(self, data: FeedData) -> None:
        self.data = data

    def of(self, article_id: int) -> list[FeedSpec]:
        return list(self.data.memberships.get(article_id, []))

    def replace(self, article_id: int, specs: Sequence[FeedSpec]) -> None:
        self.data.memberships[article_id] = list(specs)


class FakeFeedUnitOfWork:
    """FeedUnitOfWork writing straight into FeedData; counts commits."""

    def __init__(self, data: FeedData) -> None:
        self.data = data
        self.articles = FakeFeedArticles(data)
        self.archive = FakeArchivePages(data)
        self.memberships = FakeMemberships(data)

    def __enter__(self) -> FakeFeedUnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass

    def commit(self) -> None:
        self.data.commits += 1


class FakeLocks:
    """Locks that record every name taken, and fail when one is taken while already held."""

    def __init__(self) -> None:
        self.taken: list[str] = []
        self.held: set[str] = set()

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[None]:
        assert name not in self.held, f"lock {name} taken while held"
        self.taken.append(name)
        self.held.add(name)
        try:
            yield
        finally:
            self.held.remove(name)


class MemoryDocuments:
    """FeedDocuments in a dict, counting the stamp checks and full reads serving makes."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[int, FeedDocument]] = {}
        self.stamps = 0
        self.reads = 0

    def put(self, document: FeedDocument) -> bool:
        old = self.rows.get(document.path)
        if old is not None and old[1] == document:
            return False
        self.rows[document.path] = ((old[0] if old else 0) + 1, document)
        return True

    def delete(self, path: str) -> bool:
        return self.rows.pop(path, None) is not None

    def stamp(self, path: str) -> str | None:
        self.stamps += 1
        row = self.rows.get(path)
        return None if row is None else f"{row[0]}:{row[1].etag}"

    def get(self, path: str) -> tuple[str, FeedDocument] | None:
        self.reads += 1
        row = self.rows.get(path)
        return None if row is None else (f"{row[0]}:{row[1].etag}", row[1])
