"""Stories: an original article and its translations, one story in every channel.

An article whose `translation_of` names another article's guid is a version of that article's
story; the chain is followed to the end, so a translation of a translation belongs to the
original's story. A story is named by its key: the guid of the original, or the guid a
translation names when that article is not stored (yet): a translation imported before its
original already has the key the original will have. A cycle of `translation_of` (a data error)
is one story named by its smallest guid.

Which version a reader gets: the one in the reader's language (exact tag first, then the same
primary language: a `ru` reader takes `ru-RU`, a `ru-RU` reader takes `ru`); a reader whose
language has no version gets the story's default version. The default is the original when it
is among the versions offered, else the earliest published one. Where a list has a language,
only versions in it are offered, so a reader of a Russian list reads Russian whatever their own
language.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from syndicate.domain.articles import Article, Translation
from syndicate.domain.languages import in_language_range


def story_key(guid: str, original_of: Mapping[str, str | None]) -> str:
    """The key of the story of the article `guid`: its original's guid (see the module doc).

    `original_of` maps each stored article's guid to its `translation_of` (None for originals).
    """
    path: list[str] = []
    seen: set[str] = set()
    current = guid
    while True:
        parent = original_of.get(current)
        if parent is None or parent == current:
            return current
        path.append(current)
        seen.add(current)
        if parent in seen:
            return min(path[path.index(parent):])
        current = parent


def primary(tag: str) -> str:
    """The primary language subtag of a language tag, lower case ('ru-RU' → 'ru')."""
    return tag.split("-", 1)[0].lower()


@dataclass(frozen=True)
class Version:
    """One article of a story, as a digest needs it: its id and its language."""

    article_id: int
    language: str


@dataclass(frozen=True)
class Story:
    """One story of an edition: its key and the versions offered, the default version first."""

    key: str
    versions: tuple[Version, ...]

    def pick(self, language: str) -> Version:
        """The version a reader of `language` gets (see the module doc)."""
        for version in self.versions:
            if version.language.lower() == language.lower():
                return version
        wanted = primary(language)
        for version in self.versions:
            if primary(version.language) == wanted:
                return version
        return self.versions[0]


def _released(article: Article, until: datetime | None) -> bool:
    return article.is_published and (until is None or article.published_at <= until)


def _by_story(articles: Iterable[Article]) -> tuple[dict[str, str], dict[str, list[Article]]]:
    """Each guid's story key, and each story's articles (first occurrence of a guid wins)."""
    by_guid: dict[str, Article] = {}
    for article in articles:
        by_guid.setdefault(article.guid, article)
    original_of = {guid: a.translation_of for guid, a in by_guid.items()}
    keys = {guid: story_key(guid, original_of) for guid in by_guid}
    members: dict[str, list[Article]] = {}
    for guid, article in by_guid.items():
        members.setdefault(keys[guid], []).append(article)
    return keys, members


def stories_of(
    matched: Sequence[Article], linked: Iterable[Article], *, list_language: str | None = None,
    until: datetime | None = None,
) -> list[Story]:
    """The stories of the articles an edition matched, each once, in the order of `matched`.

    `linked` holds the articles tied to them by `translation_of` (any state; repeats of
    `matched` are fine). Offered versions are the published ones (by `until`), in the list's
    language range when it has one; a story always keeps its matched articles.
    """
    keys, members = _by_story([*matched, *linked])
    matched_ids = {a.id for a in matched}
    stories: list[Story] = []
    done: set[str] = set()
    for article in matched:
        key = keys[article.guid]
        if key in done:
            continue
        done.add(key)
        offered = [a for a in members[key] if a.id in matched_ids or (
            _released(a, until)
            and (not list_language or in_language_range(a.language, list_language)))]
        offered.sort(key=lambda a: (a.guid != key, a.published_at, a.id))
        stories.append(Story(key, tuple(Version(a.id, a.language) for a in offered)))
    return stories


@dataclass(frozen=True)
class Entry:
    """One entry of one reader's digest: a story and the version chosen for the reader."""

    story: str
    article_id: int


def entries_for(stories: Sequence[Story], language: str, *, skip: Collection[str] = ()) -> list[Entry]:
    """The entries of a reader of `language`: one per story, in edition order, none in `skip`."""
    return [Entry(s.key, s.pick(language).article_id) for s in stories if s.key not in skip]


def translations(
    articles: Sequence[Article], linked: Iterable[Article], *, until: datetime | None = None,
) -> dict[int, tuple[Translation, ...]]:
    """For each article id, the other published versions of its story, ordered by language tag.

    `linked` holds the articles tied to them by `translation_of`, in any state.
    """
    keys, members = _by_story([*articles, *linked])
    result: dict[int, tuple[Translation, ...]] = {}
    for article in articles:
        others = sorted((v for v in members[keys[article.guid]]
                         if v.id != article.id and _released(v, until)),
                        key=lambda v: (v.language.lower(), v.id))
        result[article.id] = tuple(Translation(v.id, v.guid, v.slug, v.language, v.url) for v in others)
    return result


class StoryReader(Protocol):
    """The read port of stories: every article tied to some articles by `translation_of`."""

    def linked(self, articles: Sequence[Article]) -> list[Article]:
        """Every stored article reachable from these through `translation_of`, either way, in
        any state (the articles themselves included)."""
