"""HTTP hardening at the edge: the client address behind trusted proxies, security headers on
admin responses, CSV cells that spreadsheets will not run, and ids bounded to int64."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from annotated_types import Interval
from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syndicate.settings import Settings

INT64_MAX = 2**63 - 1
#: An integer id or paging value: anything outside int64 is a 422, never a database overflow.
Int64 = Annotated[int, Interval(ge=-INT64_MAX - 1, le=INT64_MAX)]
#: A non-negative integer id as a path or query parameter.
DbId = Annotated[int, Interval(ge=0, le=INT64_MAX)]
#: The highest page number of an HTML listing (its offset must stay inside int64).
MAX_PAGE = 1_000_000

ADMIN_CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_COMMON_HEADERS = [(b"referrer-policy", b"same-origin"), (b"x-content-type-options", b"nosniff")]
# OWASP CSV injection: a cell starting with one of these is a formula to a spreadsheet.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _networks(settings: Settings) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    """FORWARDED_ALLOW_IPS as networks; None means every peer ('*')."""
    if "*" in settings.forwarded_allow_ips:
        return None
    return [ipaddress.ip_network(item, strict=False) for item in settings.forwarded_allow_ips]


def _trusted(peer: str, networks: list[Any] | None) -> bool:
    if networks is None:
        return True
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in net for net in networks)


def client_address(request: Request, settings: Settings) -> str:
    """The address rate limits key on: the TCP peer, or, when the peer is a proxy named in
    FORWARDED_ALLOW_IPS, the right-most `X-Forwarded-For` entry that is not such a proxy.

    With FORWARDED_ALLOW_IPS empty (the default) the header is ignored, so a client cannot pick
    its own address by sending one.
    """
    peer = request.client.host if request.client else "unknown"
    if not settings.forwarded_allow_ips:
        return peer
    networks = _networks(settings)
    if not _trusted(peer, networks):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


def safe_csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: formula starts get a leading single quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def admin_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Response headers of an admin page with CSP, X-Frame-Options, Referrer-Policy, nosniff.

    A page with a CSP of its own is an email preview that our admin pages show in a sandboxed
    iframe: it keeps its policy and may be framed by this origin only. Every other admin page
    gets ADMIN_CSP (frame-ancestors 'none') and X-Frame-Options DENY.
    """
    own = next((v for k, v in headers if k.lower() == b"content-security-policy"), None)
    replaced = {b"content-security-policy", b"x-frame-options", *(k for k, _ in _COMMON_HEADERS)}
    kept = [(k, v) for k, v in headers if k.lower() not in replaced]
    if own is not None:
        framing = [(b"content-security-policy", own + b"; frame-ancestors 'self'"),
                   (b"x-frame-options", b"SAMEORIGIN")]
    else:
        framing = [(b"content-security-policy", ADMIN_CSP.encode()), (b"x-frame-options", b"DENY")]
    return kept + framing + _COMMON_HEADERS


class AdminHeaders:
    """ASGI middleware: every /admin response (redirects and errors included) carries the
    headers of `admin_headers`."""

    def __init__(self, app: ASGIApp, prefix: str = "/admin") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = admin_headers(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, send_with_headers)
