"""The feeds' event handler: an article changed, so queue the rebuild of its feeds."""

from __future__ import annotations

from syndicate.domain.commands import RebuildFeeds
from syndicate.domain.events import ArticleEvent
from syndicate.errors import BrokerUnavailable
from syndicate.services.ports import TaskQueue


def rebuild_feeds(event: ArticleEvent, *, tasks: TaskQueue) -> None:
    """Enqueue the rebuild of the article's feeds (site, its categories, its language; idempotent).

    A broker that refuses it fails the handler, so the event is retried: feeds have no sweep of
    their own that would rebuild them later.
    """
    if not tasks.submit(RebuildFeeds(event.article_id)):
        raise BrokerUnavailable(f"could not enqueue the feed rebuild of article {event.article_id}")
