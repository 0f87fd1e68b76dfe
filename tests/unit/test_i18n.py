"""Every text a reader sees exists in every catalog, the shipped .mo files are current, and the
Russian plural forms and dates come out right."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from syndicate import i18n
from syndicate.mail.strings import PLURALS, SOURCE, plural
from syndicate.web.error_pages import HINTS, TITLES
from syndicate.web.templating import FREQUENCY_NAMES
from tests.conftest import ROOT

CALL = re.compile(r'''\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)''')
CATALOGS = sorted((ROOT / "syndicate" / "locales").glob("*/LC_MESSAGES/messages.po"))


def used_messages() -> set[str]:
    """Every English source string the pages, the web edges and the mails ask to translate."""
    found: set[str] = set()
    for path in [*(ROOT / "templates").rglob("*.html"), *(ROOT / "syndicate" / "web").rglob("*.py")]:
        for match in CALL.finditer(path.read_text()):
            found.add(match.group(1) if match.group(1) is not None else match.group(2))
    found |= {*TITLES.values(), "Something went wrong", *HINTS.values(), *FREQUENCY_NAMES.values(),
              *SOURCE.values()}
    return found


def _key(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def messages(path: Path) -> dict[object, object]:
    with path.open("rb") as fp:
        catalog = read_po(fp)
    return {_key(m.id): _key(m.string) for m in catalog if m.id}


def test_en_and_ru_catalogs_exist_and_are_complete() -> None:
    assert {p.parent.parent.name for p in CATALOGS} >= {"en", "ru"}
    wanted = used_messages() | set(PLURALS.values())
    for path in CATALOGS:
        got = messages(path)
        assert set(got) == wanted, f"{path}: missing {wanted - set(got)}, unused {set(got) - wanted}"
        empty = [k for k, v in got.items() if not v or (isinstance(v, tuple) and not all(v))]
        assert empty == [], f"{path}: untranslated {empty}"


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: p.parent.parent.name)
def test_shipped_mo_matches_its_po(po: Path) -> None:
    mo = po.with_suffix(".mo")
    assert mo.is_file(), f"{mo} is missing: run `make catalogs`"
    with mo.open("rb") as fp:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(fp) if m.id}
    assert compiled == messages(po), f"{mo} is older than {po}: run `make catalogs`"


def test_russian_subjects_have_the_right_plural_form() -> None:
    forms = {n: plural("ru", "subject_digest", n, list="Мир") for n in (1, 2, 5, 11, 21, 22)}
    assert forms == {1: "Мир: 1 новая статья", 2: "Мир: 2 новые статьи", 5: "Мир: 5 новых статей",
                     11: "Мир: 11 новых статей", 21: "Мир: 21 новая статья", 22: "Мир: 22 новые статьи"}
    assert plural("en", "subject_digest", 1, list="World") == "World: 1 new article"
    assert plural("de", "subject_digest", 5, list="World") == "World: 5 new articles"  # no catalog


def test_dates_language_names_and_browser_languages() -> None:
    when = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
    assert i18n.format_when(when, "ru-RU") == "5 декабря 2026, 18:00 UTC"
    assert i18n.format_when(when, "en") == "5 December 2026, 18:00 UTC"
    assert (i18n.language_name("ru"), i18n.language_name("en")) == ("Русский", "English")
    assert i18n.from_accept_language("de-DE,de;q=0.9,ru;q=0.8,en;q=0.5") == "ru"
    assert i18n.from_accept_language("fr, en;q=0.1") == "en"
    assert i18n.from_accept_language("") == "en"
