"""Photos named by pasted text but never uploaded: which of an article's images really exist."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from syndicate.domain.articles import Article, Image
from syndicate.settings import Settings


def missing_images(article: Article, settings: Settings) -> set[str]:
    """URLs of the article's images under MEDIA_URL whose file is not in var/media (yet)."""
    prefix = settings.public_media_url + "/"
    media_dir = settings.var_dir / "media"
    return {
        image.url for image in article.images
        if image.url.startswith(prefix) and not (media_dir / image.url.removeprefix(prefix)).is_file()
    }


def with_available_images(articles: Iterable[Article], settings: Settings) -> list[Article]:
    """The articles with missing media files left out of their images (mail, pages, feeds)."""
    out = []
    for article in articles:
        missing = missing_images(article, settings)
        images: tuple[Image, ...] = tuple(i for i in article.images if i.url not in missing)
        out.append(dataclasses.replace(article, images=images) if missing else article)
    return out
