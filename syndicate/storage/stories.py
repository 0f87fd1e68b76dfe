"""Stories in SQL: the articles tied to some articles by `translation_of`, and translations attached.

The rule itself (which articles make one story, which version a reader gets) is in
`syndicate.domain.stories`; this module only fetches the connected articles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from syndicate.domain.articles import Article
from syndicate.domain.stories import translations
from syndicate.storage.articles import to_article
from syndicate.storage.models import ArticleRow

#: How many `translation_of` hops are followed (a chain longer than this is cut there).
MAX_HOPS = 16
_CHUNK = 500


def linked_articles(session: Session, articles: Sequence[Article]) -> list[Article]:
    """Every stored article reachable from `articles` through `translation_of`, either way, in any
    state (published or not), the given ones included; one query per hop of the chains."""
    found: dict[str, Article] = {a.guid: a for a in articles}
    frontier = {a.guid for a in articles} | {a.translation_of for a in articles if a.translation_of}
    asked: set[str] = set()
    for _ in range(MAX_HOPS):
        frontier -= asked
        if not frontier:
            break
        asked |= frontier
        wanted = sorted(frontier)
        frontier = set()
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i:i + _CHUNK]
            rows = session.scalars(select(ArticleRow).options(selectinload(ArticleRow.categories))
                                   .where(or_(ArticleRow.guid.in_(chunk),
                                              ArticleRow.translation_of.in_(chunk))))
            for row in rows:
                if row.guid not in found:
                    found[row.guid] = to_article(row)
                frontier.add(row.guid)
                if row.translation_of:
                    frontier.add(row.translation_of)
    return list(found.values())


def with_translations(session: Session, articles: Sequence[Article], *,
                      now: datetime | None = None) -> list[Article]:
    """The articles with `translations` set: their stories' other versions published by `now`."""
    if not articles:
        return []
    found = translations(articles, linked_articles(session, articles), until=now or datetime.now(UTC))
    return [replace(a, translations=found.get(a.id, ())) for a in articles]


class SqlStoryReader:
    """StoryReader over SQLAlchemy sessions from `session_factory` (one transaction per call)."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def linked(self, articles: Sequence[Article]) -> list[Article]:
        """See StoryReader.linked."""
        with self.session_factory() as session:
            return linked_articles(session, articles)

    def with_translations(self, articles: Sequence[Article], *, now: datetime | None = None) -> list[Article]:
        """The articles with `translations` filled (see `with_translations`)."""
        with self.session_factory() as session:
            return with_translations(session, articles, now=now)
