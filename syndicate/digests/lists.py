"""Mailing lists: creating, editing, archiving and finding them.

Use cases on a `DigestUnitOfWork` (digests/ports.py); each commits its own work. A list's slug
never changes; an archived list gets no new editions and nobody joins it, its readers and
history stay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from syndicate.digests.ports import VISIBILITIES, DigestUnitOfWork, MailingList, Visibility
from syndicate.digests.states import FREQUENCIES, Frequency
from syndicate.domain.languages import parse_language
from syndicate.domain.slugs import SLUG_RULE, parse_slug
from syndicate.errors import InvalidDigestInput, NotFound

UnitOfWorkFactory = Callable[[], DigestUnitOfWork]
_SLUG_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")
MAX_DESCRIPTION = 1000


def check_frequency(value: str) -> Frequency:
    """The frequency; raises InvalidDigestInput naming it unless instant, daily or weekly."""
    if value not in FREQUENCIES:
        raise InvalidDigestInput(f"frequency must be one of {', '.join(FREQUENCIES)}, got {value!r}")
    return Frequency(value)


@dataclass(frozen=True)
class ListFields:
    """A list's editable fields, checked (see `check_list_fields`)."""

    name: str
    frequency: Frequency
    language: str | None
    categories: tuple[str, ...]
    description: str
    visibility: Visibility


def check_list_fields(
    *, name: str, frequency: str, language: str | None, categories: Sequence[str],
    description: str = "", visibility: str = "public",
) -> ListFields:
    """The fields of a list as stored; raises InvalidDigestInput naming the first bad one."""
    if not name.strip():
        raise InvalidDigestInput("list name must not be empty")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidDigestInput(
            f"list description is {len(description)} characters; the limit is {MAX_DESCRIPTION}")
    if visibility not in VISIBILITIES:
        raise InvalidDigestInput(f"list visibility must be public or private, got {visibility!r}")
    tag = None
    if language:
        tag = parse_language(language)
        if tag is None:
            raise InvalidDigestInput(f"--language: {language!r} is not a language tag such as en or ru-RU")
    category_slugs = []
    for raw in categories:
        category = parse_slug(raw)
        if category is None:
            raise InvalidDigestInput(f"--category: {raw!r} is not a category slug ({SLUG_RULE})")
        category_slugs.append(category)
    return ListFields(name=name.strip(), frequency=check_frequency(frequency), language=tag or None,
                      categories=tuple(dict.fromkeys(category_slugs)), description=description.strip(),
                      visibility="private" if visibility == "private" else "public")


def create_list(
    uow: UnitOfWorkFactory, *, slug: str, name: str, frequency: str, language: str | None,
    categories: Sequence[str], custom_frequency: bool, now: datetime,
    description: str = "", visibility: str = "public", repeat_stories: bool = False,
) -> MailingList:
    """Create a list; raises InvalidDigestInput on a bad or taken slug, name, frequency, language,
    description or visibility."""
    if not slug or set(slug) - _SLUG_CHARS or len(slug) > 63:
        raise InvalidDigestInput(f"list slug must be 1-63 of a-z 0-9 - _, got {slug!r}")
    fields = check_list_fields(name=name, frequency=frequency, language=language, categories=categories,
                               description=description, visibility=visibility)
    with uow() as work:
        if work.lists.by_slug(slug) is not None:
            raise InvalidDigestInput(f"list slug {slug!r} is already taken")
        created = work.lists.add(slug=slug, name=fields.name, frequency=fields.frequency,
                                 language=fields.language, categories=list(fields.categories),
                                 custom_frequency=custom_frequency, now=now,
                                 description=fields.description, visibility=fields.visibility,
                                 repeat_stories=repeat_stories)
        work.commit()
    return created


def edit_list(
    uow: UnitOfWorkFactory, list_id: int, fields: ListFields, *, repeat_stories: bool
) -> MailingList:
    """Change a list's name, frequency, language, categories, description, visibility and whether it
    repeats stories (its slug, readers and editions stay); raises NotFound. Editions already built
    keep what they were built with; the next one follows the new fields."""
    with uow() as work:
        found = work.lists.get(list_id)
        if found is None:
            raise NotFound("list", list_id)
        changed = replace(found, name=fields.name, frequency=fields.frequency, language=fields.language,
                          categories=fields.categories, description=fields.description,
                          visibility=fields.visibility, repeat_stories=repeat_stories)
        work.lists.save(changed)
        work.commit()
    return changed


def archive_list(uow: UnitOfWorkFactory, list_id: int, *, archived: bool = True) -> MailingList:
    """Archive a list (no new editions, nobody joins; readers, editions and ledger stay) or bring it
    back; raises NotFound."""
    with uow() as work:
        found = work.lists.get(list_id)
        if found is None:
            raise NotFound("list", list_id)
        changed = replace(found, archived=archived)
        work.lists.save(changed)
        work.commit()
    return changed


def set_repeat_stories(uow: UnitOfWorkFactory, slug: str, repeat: bool) -> MailingList:
    """Mark the list (by slug; NotFound) as repeating stories readers had through other lists, or not."""
    with uow() as work:
        found = work.lists.by_slug(slug)
        if found is None:
            raise NotFound("list", slug)
        work.lists.set_repeat_stories(found.id, repeat)
        work.commit()
    return replace(found, repeat_stories=repeat)


def list_by_slug(uow: UnitOfWorkFactory, slug: str) -> MailingList:
    """The list with this slug; raises NotFound."""
    with uow() as work:
        found = work.lists.by_slug(slug)
    if found is None:
        raise NotFound("list", slug)
    return found


def list_by_id(uow: UnitOfWorkFactory, list_id: int) -> MailingList:
    """The list with this id; raises NotFound."""
    with uow() as work:
        found = work.lists.get(list_id)
    if found is None:
        raise NotFound("list", list_id)
    return found


def all_lists(uow: UnitOfWorkFactory) -> list[MailingList]:
    """Every list, by id."""
    with uow() as work:
        return work.lists.all()


def public_lists(uow: UnitOfWorkFactory) -> list[MailingList]:
    """The lists anyone may join from the public pages (public, not archived), by id."""
    return [lst for lst in all_lists(uow) if lst.is_public]


def sending_lists(uow: UnitOfWorkFactory) -> list[MailingList]:
    """The lists that get new editions: every list not archived, by id."""
    return [lst for lst in all_lists(uow) if not lst.archived]
