"""The reader's language: gettext catalogs (syndicate/locales/*/LC_MESSAGES/messages.mo), Babel
for dates and plural rules, and the choice of a language from a request or a subscriber.

Adding a language is adding a catalog: `locales/<code>/LC_MESSAGES/messages.po`, compiled to
`messages.mo` with `make catalogs`; `tests/unit/test_i18n.py` checks every catalog is complete
and its .mo is current.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.support import NullTranslations, Translations

DEFAULT = "en"


def locales_dir() -> Path:
    """The folder of the shipped catalogs."""
    return Path(str(files("syndicate"))) / "locales"


@lru_cache(maxsize=1)
def available() -> tuple[str, ...]:
    """The languages with a compiled catalog, English first."""
    found = sorted(p.parent.parent.name for p in locales_dir().glob("*/LC_MESSAGES/messages.mo"))
    return tuple(sorted(set(found) | {DEFAULT}, key=lambda code: (code != DEFAULT, code)))


def pick(language: str | None) -> str:
    """The catalog language for a BCP 47 tag (its primary subtag), English when we have none."""
    primary = (language or "").split("-")[0].split("_")[0].lower()
    return primary if primary in available() else DEFAULT


def from_accept_language(header: str) -> str:
    """The first language of an Accept-Language header we have a catalog for, else English."""
    weighted = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((-quality, position, tag.strip()))
    for _q, _p, tag in sorted(weighted):
        code = tag.split("-")[0].lower()
        if code in available():
            return code
    return DEFAULT


@lru_cache(maxsize=16)
def translations(language: str) -> NullTranslations:
    """The gettext translations of a catalog language (see `pick`)."""
    code = pick(language)
    path = locales_dir() / code / "LC_MESSAGES" / "messages.mo"
    if not path.is_file():
        return NullTranslations()
    with path.open("rb") as fp:
        return Translations(fp)


def gettext(language: str, message: str) -> str:
    """`message` (English source) in `language`."""
    return translations(language).gettext(message)


def ngettext(language: str, singular: str, plural: str, n: int) -> str:
    """The form of `singular`/`plural` for `n` by the language's plural rules (ru has three)."""
    return translations(language).ngettext(singular, plural, n)


def language_name(language: str) -> str:
    """The language's own name for itself, capitalized ("Русский", "English"); the tag if unknown."""
    tag = language.replace("-", "_")
    try:
        name = Locale.parse(tag).get_display_name(tag)
    except (UnknownLocaleError, ValueError):
        return language
    return (name[:1].upper() + name[1:]) if name else language


def format_when(when: datetime, language: str) -> str:
    """A date and time as a reader of `language` writes it, in UTC ("5 декабря 2026, 18:00 UTC")."""
    text = format_datetime(when.astimezone(UTC), "d MMMM y, HH:mm", tzinfo=UTC, locale=pick(language))
    return f"{text} UTC"
