"""The words of every email, by key: English source strings translated through the gettext
catalogs of `syndicate.i18n` (a language without a catalog reads English)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from syndicate import i18n

#: Source (English) strings; their translations live in locales/*/LC_MESSAGES/messages.po.
SOURCE: Final[dict[str, str]] = {
    "hello_name": "Hello, {name}!",
    "hello": "Hello!",
    "intro_instant": "A new article was just published.",
    "intro_digest": "Here is what we published since the last issue of {list}.",
    "read_more": "Read the full article",
    "all_news": "All news",
    "why": "You receive this email because you subscribed to {list} at {site}.",
    "unsubscribe": "Unsubscribe",
    "preferences": "Manage your subscription",
    "subject_digest_one": "{list}: {title}",
    "confirm_subject": "Please confirm your subscription",
    "confirm_intro": "Someone, hopefully you, asked to receive {lists} from {site}.",
    "confirm_button": "Confirm my subscription",
    "confirm_ignore": "If it was not you, ignore this email: nothing will be sent to you.",
    "image": "Image",
    "view_in_browser": "View in your browser",
    "subscribe": "Subscribe",
    "confirm_expires": "This link works until {when}.",
}

#: Strings whose form depends on a count: (singular, plural) source pairs.
PLURALS: Final[dict[str, tuple[str, str]]] = {
    "subject_digest": ("{list}: {count} new article", "{list}: {count} new articles"),
    "more_articles": ("{count} more article is waiting for you on our website",
                      "{count} more articles are waiting for you on our website"),
}


def languages() -> tuple[str, ...]:
    """The languages mail (and pages) can be written in, English first."""
    return i18n.available()


def strings_for(language: str) -> Mapping[str, str]:
    """Every mail string in the language of a BCP 47 tag (English when we have no catalog).

    Read-only and shared: built once per tag, since the sender asks for it per message.
    """
    return _strings(language)


@lru_cache(maxsize=64)
def _strings(language: str) -> Mapping[str, str]:
    return MappingProxyType({key: i18n.gettext(language, text) for key, text in SOURCE.items()})


def plural(language: str, key: str, count: int, **values: object) -> str:
    """The form of PLURALS[key] for `count` in `language`, filled with count and `values`."""
    singular, many = PLURALS[key]
    return i18n.ngettext(language, singular, many, count).format(count=count, **values)


@lru_cache(maxsize=256)
def mail_language(language: str) -> str:
    """The catalog language used for `language` ('en' or 'ru', ...); asked several times per
    message, hence cached (the catalogs are fixed for the life of the process)."""
    return i18n.pick(language)

