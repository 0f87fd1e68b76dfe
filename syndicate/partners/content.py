"""What a partner receives: which articles match its filters, and the JSON body of a push."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from syndicate.domain.articles import Article, article_json
from syndicate.domain.languages import in_language_range


def matches(categories: Sequence[str], language: str | None, article: Article) -> bool:
    """True when the article passes a partner's filters (empty filters match everything)."""
    if categories and not set(categories) & set(article.categories):
        return False
    return not language or in_language_range(article.language, language)


def article_data(article: Article, base_url: str) -> dict[str, Any]:
    """The contract's article JSON as the admin API shows it, plus `translations`: the story's
    other published versions, [{"id", "guid", "language", "url"}] (empty when it has none, or
    when the article was loaded without its story)."""
    return {**article_json(article, base_url), "translations": [
        {"id": t.article_id, "guid": t.guid, "language": t.language, "url": t.canonical_url(base_url)}
        for t in article.translations]}


def push_body(event_type: str, timestamp: datetime, data: dict[str, Any]) -> str:
    """The signed body: {"type", "timestamp", "data"} as compact JSON (UTF-8 text)."""
    return json.dumps(
        {"type": event_type, "timestamp": timestamp.isoformat(), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
    )
