"""Publishing an article: insert or update in place, with its event, in one transaction."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slugify import slugify

from syndicate.domain.articles import Article, ArticleDraft, default_guid
from syndicate.domain.events import (
    ARTICLE_DELETED,
    ARTICLE_EMBARGOED,
    ARTICLE_PUBLISHED,
    ARTICLE_UPDATED,
)
from syndicate.errors import InvalidArticle
from syndicate.services.ports import UnitOfWork

MAX_SLUG = 80


class Outcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    UNPUBLISHED = "unpublished"


@dataclass(frozen=True)
class PublishResult:
    """What publishing did; `event_id` is None when nothing changed."""

    article: Article
    outcome: Outcome
    event_id: int | None
    # Events to hand over at once besides `event_id`: the `article.embargoed` of a scheduled one.
    notices: tuple[int, ...] = ()


def _unique_slug(uow: UnitOfWork, wanted: str) -> str:
    base = wanted[:MAX_SLUG].strip("-") or "article"
    slug, n = base, 1
    while uow.articles.slug_taken(slug):
        n += 1
        slug = f"{base[: MAX_SLUG - len(str(n)) - 1]}-{n}"
    return slug


def publish_article(
    uow: UnitOfWork, draft: ArticleDraft, *, now: Callable[[], datetime], authority: str
) -> PublishResult:
    """Store the draft; the same guid again updates in place. Idempotent for identical input.

    The article row and its outbox event commit together, so an event exists if and only if the
    change does; handing the event to the broker happens after commit (see services.outbox).
    An article without guid or URL is found again by its slug, whatever id it was given then
    (`syndicate:article:…` before tag URIs): a stored id never changes.
    """
    with uow:
        wanted_slug = draft.slug or slugify(draft.title, max_length=MAX_SLUG) or "article"
        brought = draft.guid or draft.url
        if brought:
            found = uow.articles.find_by_guid(brought)
        else:
            found = uow.articles.find_by_slug_guid(authority, wanted_slug)
        if draft.published_at is None:
            published_at = found[0].published_at if found else now()
            draft = dataclasses.replace(draft, published_at=published_at)
        assert draft.published_at is not None  # resolved just above
        guid = found[0].guid if found else default_guid(
            brought, wanted_slug, authority=authority, first_published=draft.published_at)
        moment = now()
        # A future published_at is a scheduled release: the event waits in the outbox until then.
        release = draft.published_at if draft.published_at > moment else None
        if found is None:
            article = uow.articles.add(draft, guid=guid, slug=_unique_slug(uow, wanted_slug), now=moment)
            event_type, outcome = ARTICLE_PUBLISHED, Outcome.CREATED
        else:
            existing, stored_hash = found
            if stored_hash == draft.content_hash() and existing.is_published:
                return PublishResult(existing, Outcome.UNCHANGED, None)
            # updated_at must move forward so feeds and partners see a change.
            updated_at = draft.updated_at or max(moment, existing.updated_at)
            article = uow.articles.replace(existing.id, draft, updated_at=updated_at)
            if existing.is_published and existing.published_at > moment:
                # Still scheduled: only embargo partners saw it (they hear of the change); its one
                # `article.published` moves with it.
                told = (uow.events.add(ARTICLE_EMBARGOED, article, now=moment),) if release else ()
                uow.events.reschedule(existing.id, ARTICLE_PUBLISHED, release)
                pending = None if release else uow.events.pending_id(existing.id, ARTICLE_PUBLISHED)
                uow.commit()
                return PublishResult(article, Outcome.UPDATED, pending, told)
            # Publishing an unpublished article again is a new publication for every consumer.
            event_type = ARTICLE_UPDATED if existing.is_published else ARTICLE_PUBLISHED
            outcome = Outcome.UPDATED
        notices: tuple[int, ...] = ()
        if release and event_type == ARTICLE_PUBLISHED:
            # Embargo partners hear of it now; added first, so it comes before the release.
            notices = (uow.events.add(ARTICLE_EMBARGOED, article, now=moment),)
        event_id = uow.events.add(event_type, article, now=moment, not_before=release)
        uow.commit()
    return PublishResult(article, outcome, event_id, notices)


def unpublish_article(
    uow: UnitOfWork, article_id: int, *, now: Callable[[], datetime]
) -> PublishResult | None:
    """Take an article off feeds and pages (an `article.deleted` event); None if it does not exist.

    Idempotent: unpublishing an unpublished article changes nothing and emits no event.
    """
    with uow:
        current = uow.articles.get(article_id)
        if current is None:
            return None
        if not current.is_published:
            return PublishResult(current, Outcome.UNCHANGED, None)
        moment = now()
        article = uow.articles.set_unpublished(article_id, moment)
        assert article is not None  # the row was just read in this transaction
        # Cancelled before its release, the article was seen only by embargo partners: the
        # `article.deleted` below reaches only partners that were told of it.
        uow.events.cancel_pending(article_id, ARTICLE_PUBLISHED, now=moment)
        event_id = uow.events.add(ARTICLE_DELETED, article, now=moment)
        uow.commit()
    return PublishResult(article, Outcome.UNPUBLISHED, event_id)


def reschedule_article(
    uow: UnitOfWork, article_id: int, release_at: datetime, *, now: Callable[[], datetime]
) -> PublishResult | None:
    """Move a scheduled article's release time (a past time releases it at once); None if unknown.

    Raises InvalidArticle when the article is already public or unpublished: its release happened.
    """
    with uow:
        current = uow.articles.get(article_id)
        if current is None:
            return None
        moment = now()
        if not current.is_published or current.published_at <= moment:
            raise InvalidArticle("release_at", f"article {article_id} is not scheduled "
                                 f"(published_at {current.published_at.isoformat()})")
        draft = ArticleDraft(
            title=current.title, body_html=current.body_html, published_at=release_at,
            guid=current.guid, slug=current.slug, summary=current.summary, url=current.url,
            language=current.language, categories=current.categories, authors=current.authors,
            images=current.images, translation_of=current.translation_of,
        )
        article = uow.articles.replace(article_id, draft, updated_at=max(moment, release_at))
        release = release_at if release_at > moment else None
        # Embargo partners hear of the new time.
        notices = (uow.events.add(ARTICLE_EMBARGOED, article, now=moment),) if release else ()
        uow.events.reschedule(article_id, ARTICLE_PUBLISHED, release)
        pending = None if release else uow.events.pending_id(article_id, ARTICLE_PUBLISHED)
        uow.commit()
    return PublishResult(article, Outcome.UPDATED, pending, notices)
