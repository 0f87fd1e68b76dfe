"""RFC 5005 archived feeds: which archive pages exist, and when a new one is cut.

Scheme. A feed's articles, in publication order (published_at, id) oldest first, are cut into
pages of `size` articles: page 1 holds the oldest `size`, page 2 the next `size`, and so on. A page
is cut only when `size` articles exist after the previous page's last key; its key range
[first, last] (page 1: everything up to last) is then stored in `feed_archive_pages` and never
changes, so the set of articles on a full page is immutable. The articles after the last page
(fewer than `size`) are only in the subscription feed, which holds the newest `feed_items` >=
`size` of them, so nothing falls between the two. A page document changes only when one of its
articles is edited (the entry shows the edit), when the next page is cut (it gains its
`next-archive` link once), or when an article is back-dated into its range (the page then holds
more than `size` entries).

Documents: /feeds/[scope/]archive/{k}/{atom.xml,rss.xml}; each carries `fh:archive`, `current` (the
subscription feed), `prev-archive` (k-1, except page 1), `next-archive` (k+1, except the newest
page) and its own `self`. The subscription feed links `prev-archive` to the newest page.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syndicate.feeds.model import FeedSpec
from syndicate.feeds.queries import FeedQueries, Key
from syndicate.storage.feed_models import FeedArchivePageRow


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


def _page(row: FeedArchivePageRow) -> ArchivePage:
    return ArchivePage(
        number=row.page,
        first=(row.first_published_at, row.first_id),
        last=(row.last_published_at, row.last_id),
    )


class ArchiveIndex:
    """The archive pages of the feeds, on one session (the caller commits)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.queries = FeedQueries(session)

    def newest_page(self, spec: FeedSpec) -> ArchivePage | None:
        """The newest archive page of the feed, or None when it has none yet."""
        stmt = (
            select(FeedArchivePageRow)
            .where(FeedArchivePageRow.feed_key == spec.key)
            .order_by(FeedArchivePageRow.page.desc())
            .limit(1)
        )
        row = self.session.scalars(stmt).one_or_none()
        return None if row is None else _page(row)

    def page_count(self, spec: FeedSpec) -> int:
        """How many archive pages the feed has."""
        stmt = select(func.max(FeedArchivePageRow.page)).where(FeedArchivePageRow.feed_key == spec.key)
        return int(self.session.scalar(stmt) or 0)

    def pages(self, spec: FeedSpec, numbers: set[int] | None = None) -> list[ArchivePage]:
        """The feed's pages (only `numbers` when given), oldest first."""
        stmt = select(FeedArchivePageRow).where(FeedArchivePageRow.feed_key == spec.key)
        if numbers is not None:
            stmt = stmt.where(FeedArchivePageRow.page.in_(sorted(numbers)))
        return [_page(r) for r in self.session.scalars(stmt.order_by(FeedArchivePageRow.page))]

    def containing(self, spec: FeedSpec, key: Key) -> set[int]:
        """Numbers of the pages whose key range holds `key` (at most one; page 1 has no lower bound)."""
        stmt = (
            select(FeedArchivePageRow)
            .where(FeedArchivePageRow.feed_key == spec.key, FeedArchivePageRow.last_published_at >= key[0])
            .order_by(FeedArchivePageRow.last_published_at, FeedArchivePageRow.last_id)
            .limit(2)
        )
        for page in map(_page, self.session.scalars(stmt)):
            if key <= page.last:
                return {page.number} if page.number == 1 or page.first <= key else set()
        return set()

    def cut(self, spec: FeedSpec, size: int) -> list[int]:
        """Cut every page that has become full; returns the new page numbers.

        Costs one query of at most `size` rows when no page is due, so an incremental rebuild
        stays proportional to the feed length; a first build over a large history cuts them all.
        """
        newest = self.newest_page(spec)
        number, after = (newest.number, newest.last) if newest else (0, None)
        cut: list[int] = []
        while True:
            batch = self.queries.keys_after(spec, after, size)
            if len(batch) < size:
                return cut
            number += 1
            first, last = batch[0], batch[-1]
            self.session.add(
                FeedArchivePageRow(
                    feed_key=spec.key,
                    page=number,
                    first_published_at=first[0],
                    first_id=first[1],
                    last_published_at=last[0],
                    last_id=last[1],
                    item_count=len(batch),
                )
            )
            self.session.flush()
            after = last
            cut.append(number)
