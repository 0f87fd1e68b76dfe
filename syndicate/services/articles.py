"""Use cases on articles that entrypoints call: ingest JSON, import files, unpublish."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from syndicate.errors import InvalidArticle
from syndicate.ingest.files import read_article_file
from syndicate.ingest.validate import draft_from_mapping, parse_timestamp
from syndicate.services import outbox
from syndicate.services.ports import TaskQueue, UnitOfWork
from syndicate.services.publishing import (
    PublishResult,
    publish_article,
    reschedule_article,
    unpublish_article,
)


@dataclass(frozen=True)
class ImportResult:
    """One imported file: the publish result and what cleaning was done."""

    path: Path
    result: PublishResult
    cleaned: str


@dataclass(frozen=True)
class ArticleLimits:
    """The settings the article use cases need."""

    max_body_bytes: int
    media_base_url: str
    media_dir: Path
    # The RFC 4151 tagging authority (BASE_URL's host) of guids made for articles without one.
    tag_authority: str


class ArticleService:
    """Publishing articles: store the article and its event in one transaction, then hand the
    event to the broker. A broker failure is never an error here: the event stays in the outbox
    and the beat relay delivers it later."""

    def __init__(self, uow: Callable[[], UnitOfWork], tasks: TaskQueue, now: Callable[[], datetime],
                 limits: ArticleLimits) -> None:
        self.uow = uow
        self.tasks = tasks
        self.now = now
        self.limits = limits

    def ingest(self, data: Mapping[str, Any], *, overrides: Mapping[str, Any] = {}) -> PublishResult:
        """Validate article JSON, store it with its event, then submit the event.

        Raises InvalidArticle (nothing stored) on bad input.
        """
        if not isinstance(data, Mapping):
            raise InvalidArticle("(document)", f"must be a JSON object, got {type(data).__name__}")
        merged = {**data, **{k: v for k, v in overrides.items() if v not in (None, [], ())}}
        draft = draft_from_mapping(merged, now=self.now(), max_body_bytes=self.limits.max_body_bytes)
        result = publish_article(self.uow(), draft, now=self.now,
                                 authority=self.limits.tag_authority)
        self._dispatch(result)
        return result

    def import_file(self, path: Path, *, overrides: Mapping[str, Any] = {}) -> ImportResult:
        """Import one article file in its own transaction; raises InvalidArticle naming the file."""
        article_file = read_article_file(path, media_base_url=self.limits.media_base_url,
                                         max_body_bytes=self.limits.max_body_bytes)
        try:
            result = self.ingest(article_file.data, overrides=overrides)
        except InvalidArticle as exc:
            raise exc.with_source(str(path)) from None
        copied = _copy_photos(path.parent, article_file.photos, self.limits.media_dir)
        cleaned = article_file.cleaned + (f"; {copied} photo file(s) copied to media" if copied else "")
        return ImportResult(path=path, result=result, cleaned=cleaned)

    def unpublish(self, article_id: int) -> PublishResult | None:
        """Unpublish an article and submit its `article.deleted` event; None if unknown."""
        result = unpublish_article(self.uow(), article_id, now=self.now)
        if result is not None:
            self._dispatch(result)
        return result

    def reschedule(self, article_id: int, release_at: object) -> PublishResult | None:
        """Move a scheduled article's release time (RFC 3339); None if unknown, InvalidArticle
        naming `release_at` for a bad time or an article already released."""
        when = parse_timestamp("release_at", release_at)
        result = reschedule_article(self.uow(), article_id, when, now=self.now)
        if result is not None:
            self._dispatch(result)
        return result

    def _dispatch(self, result: PublishResult) -> None:
        ids = [*result.notices, *([result.event_id] if result.event_id is not None else [])]
        if ids:
            outbox.dispatch(self.uow, self.tasks, ids, now=self.now)


def _copy_photos(source_dir: Path, names: list[str], media_dir: Path) -> int:
    """Copy the photo files a .txt names from its own folder into var/media (never overwrites)."""
    copied = 0
    for name in names:
        source, target = source_dir / name, media_dir / name
        if source.is_file() and not target.exists():
            media_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            copied += 1
    return copied
