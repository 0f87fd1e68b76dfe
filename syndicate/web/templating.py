"""The Jinja2 environment for HTML pages (templates/, shipped as package data)."""

from __future__ import annotations

from fastapi.templating import Jinja2Templates

from syndicate.resources import templates_dir


def make_templates() -> Jinja2Templates:
    """Templates with autoescaping on; article bodies are sanitized at ingestion."""
    return Jinja2Templates(directory=str(templates_dir()))
