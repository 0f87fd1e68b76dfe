"""The SSRF guard: a partner URL must be http(s) and every address its host resolves to public."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import httpx

from syndicate.errors import PartnerUrlRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges `is_global` alone lets through or that wrap another address; checked after unwrapping.
DENYLIST = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64",
        "2001::/32", "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)
# Cloud metadata endpoints: refused even when PARTNER_ALLOW_PRIVATE=true.
ALWAYS_REFUSED = tuple(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
SCHEMES = ("http", "https")


@dataclass(frozen=True)
class CheckedTarget:
    """A URL whose host resolved to `addresses`, all of them allowed; connect only to these."""

    url: str
    host: str
    port: int
    addresses: tuple[str, ...]


def _unwrap(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why `address` may not be called, or None when it may."""
    inner = _unwrap(address)
    for candidate in {address, inner}:
        if candidate in ALWAYS_REFUSED:
            return f"{address} is a cloud metadata address"
        if candidate.is_unspecified or candidate.is_multicast:
            return f"{address} is {'unspecified' if candidate.is_unspecified else 'multicast'}"
    if allow_private:
        return None
    for candidate in {address, inner}:
        for network in DENYLIST:
            if candidate.version == network.version and candidate in network:
                return f"{address} is in the refused range {network}"
        if not candidate.is_global:
            return f"{address} is not a global address"
    return None


def _resolve(host: str, port: int) -> list[str]:
    try:
        return [ipaddress.ip_address(host).compressed]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    seen: dict[str, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        seen[str(sockaddr[0]).split("%", 1)[0]] = None
    return list(seen)


def check_url(url: str, *, allow_private: bool) -> CheckedTarget:
    """Resolve the URL's host and check every address; raises PartnerUrlRefused naming why."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise PartnerUrlRefused(url, f"not a valid URL ({exc})") from None
    if parsed.scheme not in SCHEMES:
        raise PartnerUrlRefused(url, f"scheme {parsed.scheme!r} is not http or https")
    host = parsed.host
    if not host:
        raise PartnerUrlRefused(url, "it has no host")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise PartnerUrlRefused(url, f"host {host!r} does not resolve ({exc})") from None
    if not addresses:
        raise PartnerUrlRefused(url, f"host {host!r} resolves to no address")
    for text in addresses:
        reason = refusal(ipaddress.ip_address(text), allow_private=allow_private)
        if reason:
            raise PartnerUrlRefused(url, f"host {host!r} resolves to a refused address: {reason}")
    return CheckedTarget(url=url, host=host, port=port, addresses=tuple(addresses))
