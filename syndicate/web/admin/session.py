"""Admin sign-in: a signed, HTTP-only session cookie and per-session CSRF tokens.

The session proves the browser once presented ADMIN_TOKEN. It carries a fingerprint of that token,
so rotating ADMIN_TOKEN signs every browser out, and a random session id recorded server-side
(admin_sessions), so signing out revokes that cookie even where a copy of it survives. Forms carry
the session's CSRF token; a POST without the matching token is refused before any work is done.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from syndicate.bootstrap import Container
from syndicate.storage.admin_sessions import AdminSessionStore
from syndicate.web.deps import ContainerDep

SESSION_COOKIE = "syndicate_admin"
LOGIN_CSRF_COOKIE = "syndicate_login_csrf"
SESSION_MAX_AGE_S = 12 * 3600


class NeedsLogin(Exception):
    """The request has no valid admin session or bearer token."""


class CsrfRejected(Exception):
    """A state-changing form came without the session's CSRF token."""


@dataclass(frozen=True)
class AdminSession:
    """A signed-in admin; `csrf` goes into every form; `sid` names it server-side ('' for bearer)."""

    csrf: str
    sid: str = ""


def _serializer(container: Container) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(container.settings.resolved_secret_key, salt="syndicate.admin")


def _fingerprint(container: Container) -> str:
    token = container.settings.resolved_admin_token.encode()
    return hashlib.sha256(b"admin-token:" + token).hexdigest()[:32]


def token_matches(container: Container, given: str) -> bool:
    """Constant-time comparison of `given` with ADMIN_TOKEN."""
    expected = container.settings.resolved_admin_token.encode()
    return hmac.compare_digest(given.strip().encode(), expected)


def _secure(container: Container) -> bool:
    return container.settings.base_url.startswith("https://")


def start_session(container: Container, response: Response) -> AdminSession:
    """Record a new session server-side and set its cookie on `response`."""
    session = AdminSession(csrf=secrets.token_urlsafe(32), sid=secrets.token_urlsafe(32))
    now = container.now()
    AdminSessionStore(container.session_factory).create(
        session.sid, now=now, expires_at=now + timedelta(seconds=SESSION_MAX_AGE_S))
    value = _serializer(container).dumps(
        {"csrf": session.csrf, "fp": _fingerprint(container), "sid": session.sid})
    response.set_cookie(
        SESSION_COOKIE, value, max_age=SESSION_MAX_AGE_S, httponly=True, samesite="strict",
        secure=_secure(container), path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin/login")
    return session


def end_session(container: Container, session: AdminSession, response: Response) -> None:
    """Revoke the session server-side and remove its cookie."""
    if session.sid:
        AdminSessionStore(container.session_factory).revoke(session.sid, now=container.now())
    response.delete_cookie(SESSION_COOKIE, path="/")


def read_session(container: Container, request: Request) -> AdminSession | None:
    """The valid session of this request, or None."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(container).loads(raw, max_age=SESSION_MAX_AGE_S)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("fp") != _fingerprint(container):
        return None
    csrf, sid = data.get("csrf"), data.get("sid")
    if not isinstance(csrf, str) or not isinstance(sid, str) or not sid:
        return None
    if not AdminSessionStore(container.session_factory).is_active(sid, now=container.now()):
        return None
    return AdminSession(csrf=csrf, sid=sid)


def login_csrf_token(request: Request) -> str:
    """The sign-in form's CSRF token: the one its cookie already holds, or a new one."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)


def set_login_csrf(response: Response, token: str, container: Container) -> None:
    """Store the sign-in CSRF token in a cookie (double-submit: there is no session yet)."""
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
        secure=_secure(container), path="/admin/login",
    )


def check_login_csrf(request: Request, submitted: str) -> None:
    """Raise CsrfRejected unless the form's token equals the sign-in cookie."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), submitted.encode()):
        raise CsrfRejected("the sign-in form expired; reload the page and try again")


def require_session(request: Request, container: ContainerDep) -> AdminSession:
    """The admin session, or a bearer ADMIN_TOKEN (for scripts); raises NeedsLogin otherwise."""
    session = read_session(container, request)
    if session is not None:
        return session
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token and token_matches(container, token):
        return AdminSession(csrf="")
    raise NeedsLogin()


SessionDep = Annotated[AdminSession, Depends(require_session)]


async def require_csrf(request: Request, session: SessionDep) -> AdminSession:
    """For POST forms: the session, after checking the form's `csrf_token` field."""
    if not session.csrf:
        return session  # bearer-token callers send no cookies, so there is nothing to forge
    form = await request.form()
    submitted = form.get("csrf_token")
    if not isinstance(submitted, str) or not hmac.compare_digest(
        submitted.encode(), session.csrf.encode()
    ):
        raise CsrfRejected("the form's CSRF token is missing or wrong; reload the page")
    return session


CsrfDep = Annotated[AdminSession, Depends(require_csrf)]
