"""Which handlers run for which event: one plain dict, the single place features plug in.

A handler takes the event first and then, by keyword, only the dependencies it uses, named as in
`bootstrap.dependencies`; bootstrap binds them once per process (cosmicpython's
`inject_dependencies`), so no handler sees the container.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from syndicate.digests.service import on_article_published as instant_editions
from syndicate.domain.events import (
    ARTICLE_DELETED,
    ARTICLE_EMBARGOED,
    ARTICLE_PUBLISHED,
    ARTICLE_UPDATED,
    ArticleEvent,
)
from syndicate.feeds.events import rebuild_feeds
from syndicate.partners.service import on_article_event as partner_pushes

Handler = Callable[..., None]

log = logging.getLogger("syndicate.events")


def log_event(event: ArticleEvent) -> None:
    """Write the event to the log: the audit line an operator greps for."""
    log.info("%s article_id=%s guid=%s event_id=%s", event.type, event.article_id, event.guid,
             event.event_id, extra={"event": event.type, "article_id": event.article_id,
                                    "guid": event.guid, "event_id": event.event_id})


HANDLERS: dict[str, list[Handler]] = {
    ARTICLE_PUBLISHED: [log_event, partner_pushes, rebuild_feeds, instant_editions],
    ARTICLE_UPDATED: [log_event, partner_pushes, rebuild_feeds],
    ARTICLE_DELETED: [log_event, partner_pushes, rebuild_feeds],
    ARTICLE_EMBARGOED: [log_event, partner_pushes],  # only embargo partners hear of it
}
