"""The confirmation step of destructive admin buttons (suppress, erase, disable, unpublish, send).

A destructive form posts without `confirm`; the handler answers with a page restating what will
happen and a second form, carrying the same fields plus `confirm=yes` and the CSRF token. Only that
second post acts. No script is needed, and a forged or replayed first post does nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import HTMLResponse

from syndicate.web.admin.views import render

CONFIRMED = "yes"


def is_confirmed(value: str | None) -> bool:
    """True when the form carried the confirmation step's `confirm=yes`."""
    return value == CONFIRMED


def ask(
    request: Request, *, title: str, message: str, button: str, back: str,
    fields: Mapping[str, str] | None = None, danger: bool = True,
) -> HTMLResponse:
    """The confirmation page: `message`, a `button` posting back to this URL with `fields` and
    confirm=yes, and a link `back` to cancel."""
    return render(request, "admin/confirm.html", {
        "title": title, "message": message, "button": button, "back": back,
        "action": request.url.path, "fields": dict(fields or {}), "danger": danger,
    })
