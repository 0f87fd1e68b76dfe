"""Slugs: of categories (articles, feeds, lists, partner filters) and of articles. One rule."""

from __future__ import annotations

import re
from typing import NewType

#: Lowercase ASCII letters and digits, '-' inside, at most 63 characters.
Slug = NewType("Slug", str)

SLUG_RULE = "lowercase letters, digits and '-', at most 63 characters"
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def parse_slug(value: str) -> Slug | None:
    """The slug `value` names (trimmed, lowercased), or None when it is not a valid slug."""
    slug = value.strip().lower()
    return Slug(slug) if _SLUG.fullmatch(slug) else None


def is_slug(value: str) -> bool:
    """True when `value` is a slug exactly as given (no trimming, no case folding)."""
    return _SLUG.fullmatch(value) is not None
