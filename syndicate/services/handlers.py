"""Which handlers run for which event: one plain dict, the single place features plug in."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from syndicate.domain.events import (
    ARTICLE_DELETED,
    ARTICLE_PUBLISHED,
    ARTICLE_UPDATED,
    ArticleEvent,
)

if TYPE_CHECKING:
    from syndicate.bootstrap import Container

Handler = Callable[[ArticleEvent, "Container"], None]

log = logging.getLogger("syndicate.events")


def log_event(event: ArticleEvent, container: Container) -> None:
    """Write the event to the log: the audit line an operator greps for."""
    log.info("%s article_id=%s guid=%s event_id=%s", event.type, event.article_id, event.guid,
             event.event_id)


HANDLERS: dict[str, list[Handler]] = {
    ARTICLE_PUBLISHED: [log_event],
    ARTICLE_UPDATED: [log_event],
    ARTICLE_DELETED: [log_event],
}
