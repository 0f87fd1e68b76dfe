"""Stories in SQL: the articles tied to some articles by `translation_of`, and translations attached.

The rule itself (which articles make one story, which version a reader gets) is in
`syndicate.domain.stories`; this module only fetches the connected articles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload, sessionmaker

from syndicate.domain.articles import Article
from syndicate.domain.stories import translations
from syndicate.storage.articles import to_article
from syndicate.storage.models import ArticleRow

#: How many `translation_of` hops are followed (a chain longer than this is cut there).
MAX_HOPS = 16
_CHUNK = 500


Edge = tuple[str, str | None]


def _edges(session: Session, column: InstrumentedAttribute[Any], values: Sequence[str]) -> list[Edge]:
    """(guid, translation_of) of the articles whose `column` is among `values` (ids only, no rows)."""
    found: list[Edge] = []
    for i in range(0, len(values), _CHUNK):
        found += [(g, t) for g, t in session.execute(select(ArticleRow.guid, ArticleRow.translation_of)
                                                     .where(column.in_(values[i:i + _CHUNK])))]
    return found


def linked_articles(session: Session, articles: Sequence[Article]) -> list[Article]:
    """Every stored article reachable from `articles` through `translation_of`, either way, in any
    state (published or not), the given ones included.

    The chains are walked on (guid, translation_of) pairs alone, one hop per round: the
    translations of the guids found last (ix_articles_translation_of) and the originals they name.
    Only articles not given are then loaded whole, so for articles without translations this
    costs one indexed query returning nothing (feeds call it on every page they build).
    """
    given: dict[str, Article] = {a.guid: a for a in articles}
    original_of: dict[str, str | None] = {a.guid: a.translation_of for a in articles}
    fresh = set(given)
    asked_children: set[str] = set()
    asked_parents: set[str] = set()
    for _ in range(MAX_HOPS):
        named = {parent for g in fresh if (parent := original_of[g])}
        # Translations of these articles, and of originals that are not stored (their siblings).
        children = sorted((fresh | named) - asked_children)
        parents = sorted(named - original_of.keys() - asked_parents)
        asked_children.update(children)
        asked_parents.update(parents)
        if not children and not parents:
            break
        fresh = set()
        for guid, parent in (_edges(session, ArticleRow.translation_of, children)
                             + _edges(session, ArticleRow.guid, parents)):
            if guid not in original_of:
                original_of[guid] = parent
                fresh.add(guid)
    more = sorted(original_of.keys() - given.keys())
    for i in range(0, len(more), _CHUNK):
        for row in session.scalars(select(ArticleRow).options(selectinload(ArticleRow.categories))
                                   .where(ArticleRow.guid.in_(more[i:i + _CHUNK]))):
            given[row.guid] = to_article(row)
    return list(given.values())


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
