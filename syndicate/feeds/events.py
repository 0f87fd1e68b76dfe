"""The feeds' event handler: an article changed, so queue the rebuild of its feeds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from syndicate.domain.events import ArticleEvent

if TYPE_CHECKING:
    from syndicate.bootstrap import Container

REBUILD_ARTICLE = "syndicate.feeds.rebuild_article"
WEBSUB_PING = "syndicate.feeds.websub_ping"


def rebuild_feeds(event: ArticleEvent, container: Container) -> None:
    """Enqueue the rebuild of the article's feeds (site, its categories, its language; idempotent)."""
    container.celery.send_task(
        REBUILD_ARTICLE, args=[event.article_id], queue=container.settings.celery_queue
    )
