"""The Jinja2 environment for HTML pages (templates/ at the project root)."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


def make_templates() -> Jinja2Templates:
    """Templates with autoescaping on; article bodies are sanitized at ingestion."""
    return Jinja2Templates(directory=str(TEMPLATES_DIR))
