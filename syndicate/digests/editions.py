"""Editions: which stories go to a list now, stored with one queued delivery per recipient.

An edition holds stories, not articles: the articles that matched the list in its window are
grouped with their translations (domain/stories.py), one story each; every reader later gets
one version of each story (chosen at the delivery's first claim, in the reader's language).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from syndicate.digests.ports import EditionStore, MailingList, NewEdition
from syndicate.digests.states import Frequency
from syndicate.domain.articles import Article
from syndicate.domain.languages import in_language_range
from syndicate.domain.stories import stories_of

PERIODS = {Frequency.INSTANT: timedelta(days=1), Frequency.DAILY: timedelta(days=1),
           Frequency.WEEKLY: timedelta(days=7)}
MAX_ARTICLES = 200


def english_subject(lst: MailingList, articles: Sequence[Article]) -> str:
    """The subject shown in admin listings (emails use the recipient's language)."""
    if len(articles) == 1:
        return f"{lst.name}: {articles[0].title}"
    return f"{lst.name}: {len(articles)} new articles"


def article_matches(lst: MailingList, article: Article) -> bool:
    """True when the article passes the list's language and category filters."""
    if lst.language and not in_language_range(article.language, lst.language):
        return False
    return not lst.categories or bool(set(lst.categories) & set(article.categories))


def create_edition(
    editions: EditionStore, lst: MailingList, *, frequency: Frequency, now: datetime,
    since: datetime | None = None, article_ids: Sequence[int] | None = None,
    dedupe_key: str | None = None, epoch: str | None = None,
) -> int | None:
    """Store an edition and its queued deliveries; returns its id, None when there is nothing.

    Nothing is stored when no article matches or nobody receives this frequency. With a
    dedupe_key the id of the existing edition of that key is returned instead (at-least-once
    callers: beat, event handlers). With an `epoch` the deliveries are stored marked enqueued
    under it (see `EditionStore.add`).
    """
    if dedupe_key is not None:
        existing = editions.find(lst.id, dedupe_key)
        if existing is not None:
            return existing
    if since is None:
        since = editions.previous_until(lst.id, frequency) or now - PERIODS[frequency]
    articles = editions.matching_articles(lst, since=since, until=now, article_ids=article_ids,
                                          limit=MAX_ARTICLES)
    if not articles:
        return None
    linked = editions.linked(articles)
    stories = stories_of(articles, linked, list_language=lst.language, until=now)
    by_id = {a.id: a for a in [*linked, *articles]}
    defaults = [by_id[s.versions[0].article_id] for s in stories]
    edition = NewEdition(
        list_id=lst.id, frequency=frequency, dedupe_key=dedupe_key, since=since, until=now,
        article_ids=tuple(a.id for a in defaults), subject=english_subject(lst, defaults),
        stories=tuple(stories),
    )
    return editions.add(edition, lst, now=now, epoch=epoch)
