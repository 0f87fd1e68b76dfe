"""Embedded mode's outbox: the .eml files written to var/outbox/ instead of sending mail."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from syndicate.web.admin.session import SessionDep
from syndicate.web.admin.views import render
from syndicate.web.deps import ContainerDep
from syndicate.web.security import MAX_PAGE

router = APIRouter(prefix="/admin/outbox", include_in_schema=False)
_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.eml$")
PAGE_SIZE = 50
# Mail HTML is shown as the recipient would see it, but nothing in it may run or phone home
# beyond its images.
PREVIEW_CSP = "sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class OutboxMail:
    """One written message, as the list shows it."""

    name: str
    written_at: datetime
    to: str
    subject: str


def _folder(request: Request) -> Path:
    return Path(request.app.state.container.settings.var_dir) / "outbox"


def _parse(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # policy.default always builds EmailMessage
    return message


def _open(request: Request, name: str) -> tuple[Path, EmailMessage]:
    path = _folder(request) / name
    if not _NAME.match(name) or not path.is_file():
        raise HTTPException(404, f"no message {name!r} in the outbox")
    return path, _parse(path)


@router.get("", response_class=HTMLResponse)
def outbox(
    request: Request, _: SessionDep, container: ContainerDep, page: int = Query(1, ge=1, le=MAX_PAGE)
) -> HTMLResponse:
    """The newest written messages first."""
    folder = _folder(request)
    files = (
        sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True) if folder.is_dir() else []
    )
    shown = []
    for path in files[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]:
        message = _parse(path)
        shown.append(
            OutboxMail(
                name=path.name,
                written_at=datetime.fromtimestamp(path.stat().st_mtime, UTC),
                to=str(message.get("To", message.get("X-Envelope-To", ""))),
                subject=str(message.get("Subject", "")),
            )
        )
    pages = max(1, -(-len(files) // PAGE_SIZE))
    return render(
        request,
        "admin/outbox.html",
        {
            "mails": shown,
            "total": len(files),
            "page": page,
            "pages": pages,
            "folder": str(folder),
            "smtp_configured": bool(container.settings.smtp_url),
        },
    )


@router.get("/{name}", response_class=HTMLResponse)
def outbox_message(request: Request, name: str, _: SessionDep) -> HTMLResponse:
    """One message: headers, the text part, and the HTML part in a sandboxed frame."""
    message = _open(request, name)[1]
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return render(
        request,
        "admin/outbox_message.html",
        {
            "name": name,
            "headers": list(message.items()),
            "text": text.get_content() if text is not None else None,
            "has_html": html is not None,
        },
    )


@router.get("/{name}/html")
def outbox_message_html(request: Request, name: str, _: SessionDep) -> Response:
    """The HTML part alone, under a CSP that runs no script (shown in a sandboxed iframe)."""
    message = _open(request, name)[1]
    html = message.get_body(preferencelist=("html",))
    if html is None:
        raise HTTPException(404, f"message {name!r} has no HTML part")
    return Response(
        html.get_content(),
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": PREVIEW_CSP,
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/{name}/raw")
def outbox_message_raw(request: Request, name: str, _: SessionDep) -> Response:
    """The .eml file as written."""
    path = _open(request, name)[0]
    return Response(
        path.read_bytes(),
        media_type="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
