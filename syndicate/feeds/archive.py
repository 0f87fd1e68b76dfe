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

from syndicate.feeds.model import FeedSpec, Key
from syndicate.feeds.ports import ArchivePage, FeedUnitOfWork


def pages_holding(uow: FeedUnitOfWork, spec: FeedSpec, key: Key) -> set[int]:
    """Numbers of the pages whose key range holds `key` (at most one; page 1 has no lower bound)."""
    for page in uow.archive.ending_from(spec, key[0], 2):
        if key <= page.last:
            return {page.number} if page.number == 1 or page.first <= key else set()
    return set()


def cut_pages(uow: FeedUnitOfWork, spec: FeedSpec, size: int) -> list[int]:
    """Cut every page that has become full; returns the new page numbers (the caller commits).

    Costs one query of at most `size` keys when no page is due, so an incremental rebuild stays
    proportional to the feed length; a first build over a large history cuts them all.
    """
    newest = uow.archive.newest(spec)
    number, after = (newest.number, newest.last) if newest else (0, None)
    cut: list[int] = []
    while True:
        batch = uow.articles.keys_after(spec, after, size)
        if len(batch) < size:
            return cut
        number += 1
        uow.archive.add(spec, ArchivePage(number=number, first=batch[0], last=batch[-1]), len(batch))
        after = batch[-1]
        cut.append(number)
