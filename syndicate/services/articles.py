"""Use cases on articles that entrypoints call: ingest JSON, import files."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syndicate.errors import InvalidArticle
from syndicate.ingest.files import read_article_file
from syndicate.ingest.validate import draft_from_mapping
from syndicate.services import outbox
from syndicate.services.publishing import PublishResult, publish_article, unpublish_article

if TYPE_CHECKING:
    from syndicate.bootstrap import Container

@dataclass(frozen=True)
class ImportResult:
    """One imported file: the publish result and what cleaning was done."""

    path: Path
    result: PublishResult
    cleaned: str


def ingest(
    container: Container, data: Mapping[str, Any], *, overrides: Mapping[str, Any] = {}
) -> PublishResult:
    """Validate article JSON, store it with its event, then hand the event to the broker.

    Raises InvalidArticle (nothing stored) on bad input. A broker failure is not an error: the
    event stays in the outbox and the beat relay delivers it later.
    """
    if not isinstance(data, Mapping):
        raise InvalidArticle("(document)", f"must be a JSON object, got {type(data).__name__}")
    merged = {**data, **{k: v for k, v in overrides.items() if v not in (None, [], ())}}
    draft = draft_from_mapping(
        merged, now=container.now(), max_body_bytes=container.settings.max_body_bytes
    )
    result = publish_article(container.uow(), draft, now=container.now)
    if result.event_id is not None:
        outbox.dispatch(container.uow, container.tasks, [result.event_id], now=container.now)
    return result


def import_file(
    container: Container, path: Path, *, overrides: Mapping[str, Any] = {}
) -> ImportResult:
    """Import one article file in its own transaction; raises InvalidArticle naming the file."""
    settings = container.settings
    article_file = read_article_file(
        path, media_base_url=settings.public_media_url, max_body_bytes=settings.max_body_bytes
    )
    try:
        result = ingest(container, article_file.data, overrides=overrides)
    except InvalidArticle as exc:
        raise exc.with_source(str(path)) from None
    copied = _copy_photos(path.parent, article_file.photos, settings.var_dir / "media")
    cleaned = article_file.cleaned + (f"; {copied} photo file(s) copied to media" if copied else "")
    return ImportResult(path=path, result=result, cleaned=cleaned)


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


def unpublish(container: Container, article_id: int) -> PublishResult | None:
    """Unpublish an article and hand its `article.deleted` event to the broker; None if unknown."""
    result = unpublish_article(container.uow(), article_id, now=container.now)
    if result is not None and result.event_id is not None:
        outbox.dispatch(container.uow, container.tasks, [result.event_id], now=container.now)
    return result
