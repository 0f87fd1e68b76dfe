"""Celery tasks of the feeds: rebuild an article's feeds, ping WebSub hubs. Thin: decode, call, return."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from syndicate.broker.taskqueue import task_name
from syndicate.domain.commands import PingHub, RebuildFeeds
from syndicate.feeds import websub
from syndicate.feeds.service import rebuild_article_feeds

from .runtime import container_of

log = logging.getLogger(__name__)


@shared_task(
    name=task_name(RebuildFeeds),
    bind=True,
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=6,
)
def rebuild_article(self: Task, article_id: int) -> int:
    """Rebuild the feeds of one article (idempotent); queue one WebSub ping per hub and changed feed."""
    c = container_of(self)
    result = rebuild_article_feeds(c.feed_service(), int(article_id), tasks=c.tasks, telemetry=c.telemetry)
    return len(result.changed)


@shared_task(name=task_name(PingHub), bind=True, max_retries=8, acks_late=True)
def websub_ping(self: Task, hub: str, feed_url: str) -> int:
    """Ping one hub about one feed URL; retried with exponential backoff, failures logged."""
    try:
        return websub.ping(hub, feed_url)
    except Exception as exc:
        retries = int(self.request.retries)
        delay = min(2 ** (retries + 1), 300)
        log.warning("websub ping %s for %s failed (attempt %s): %s", hub, feed_url, retries + 1, exc)
        if retries >= (self.max_retries or 0):
            log.error("websub ping %s for %s given up after %s attempts", hub, feed_url, retries + 1)
            return 0
        raise self.retry(exc=exc, countdown=delay) from exc
