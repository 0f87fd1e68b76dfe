"""The Jinja2 environment for HTML pages (templates/, shipped as package data), and the words
of a page in the reader's language."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from syndicate import i18n
from syndicate.resources import templates_dir

FREQUENCY_NAMES = {"instant": "As soon as we publish", "daily": "Daily", "weekly": "Weekly"}


def frequency_name(frequency: str) -> str:
    """How a page names a list's frequency ("Daily", English source); unknown values as they are."""
    return FREQUENCY_NAMES.get(str(frequency), str(frequency))


def request_language(request: Request) -> str:
    """The catalog language a browser asks for (Accept-Language), English by default."""
    return i18n.from_accept_language(request.headers.get("accept-language", ""))


def i18n_context(language: str) -> dict[str, Any]:
    """What a page template needs to speak `language`: `_`, `ngettext`, `page_lang`, `when`."""
    code = i18n.pick(language)
    t = i18n.translations(code)
    return {"_": t.gettext, "ngettext": t.ngettext, "page_lang": code,
            "when": partial(i18n.format_when, language=code)}


def make_templates() -> Jinja2Templates:
    """Templates with autoescaping on; article bodies are sanitized at ingestion."""
    templates = Jinja2Templates(directory=str(templates_dir()))
    templates.env.globals["frequency_name"] = frequency_name
    # Pages rendered without a language (the admin's) read English.
    templates.env.globals.update(i18n_context(i18n.DEFAULT))
    return templates
