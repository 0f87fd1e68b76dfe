"""The Jinja2 environment for HTML pages (templates/, shipped as package data)."""

from __future__ import annotations

from fastapi.templating import Jinja2Templates

from syndicate.resources import templates_dir

FREQUENCY_NAMES = {"instant": "As soon as we publish", "daily": "Daily", "weekly": "Weekly"}


def frequency_name(frequency: str) -> str:
    """How a page names a list's frequency ("Daily"); unknown values as they are."""
    return FREQUENCY_NAMES.get(str(frequency), str(frequency))


def make_templates() -> Jinja2Templates:
    """Templates with autoescaping on; article bodies are sanitized at ingestion."""
    templates = Jinja2Templates(directory=str(templates_dir()))
    templates.env.globals["frequency_name"] = frequency_name
    return templates
