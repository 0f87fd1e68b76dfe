"""Domain events: past-tense facts that handlers (feeds, digests, partners) react to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

ARTICLE_PUBLISHED: Final = "article.published"
ARTICLE_UPDATED: Final = "article.updated"
ARTICLE_DELETED: Final = "article.deleted"
# A scheduled article, told ahead of its release only to partners that opted in to embargoes.
ARTICLE_EMBARGOED: Final = "article.embargoed"

EVENT_TYPES: Final = frozenset({ARTICLE_PUBLISHED, ARTICLE_UPDATED, ARTICLE_DELETED, ARTICLE_EMBARGOED})


@dataclass(frozen=True)
class ArticleEvent:
    """Something happened to an article. `event_id` is the outbox row's id, unique per event."""

    event_id: int
    type: str
    article_id: int
    guid: str
