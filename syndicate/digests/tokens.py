"""Signed link tokens: confirm (expiring) and manage (unsubscribe + preferences, long-lived).

A token is `base64url(payload).base64url(hmac_sha256(key, purpose + payload))[:22]`; the key is
derived from SECRET_KEY, so rotating SECRET_KEY invalidates every link ever mailed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from syndicate.errors import InvalidToken

CONFIRM = "c"
MANAGE = "m"
EDITION = "e"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenData:
    """What a verified token says."""

    purpose: str
    subscriber_id: int
    list_ids: tuple[int, ...]
    issued: int


class Signer:
    """Makes and checks tokens with one secret."""

    def __init__(self, secret_key: str) -> None:
        key = hashlib.sha256(b"syndicate-digest-tokens:" + secret_key.encode()).digest()
        # Keyed once; each MAC copies it (the key schedule cost more than the MAC itself).
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def _mac(self, purpose: str, payload: bytes) -> str:
        mac = self._keyed.copy()
        mac.update(purpose.encode() + b"|" + payload)
        return _b64(mac.digest())[:22]

    def make(self, purpose: str, subscriber_id: int, list_ids: tuple[int, ...], now: datetime) -> str:
        """A token for `purpose` naming the subscriber and lists, issued at `now`."""
        payload = f"{subscriber_id}:{','.join(map(str, list_ids))}:{int(now.timestamp())}".encode()
        return f"{_b64(payload)}.{self._mac(purpose, payload)}"

    def edition_signature(self, edition_id: int) -> str:
        """The signature that opens an edition's web page ("view in browser"); it never expires."""
        return self._mac(EDITION, str(edition_id).encode())

    def check_edition(self, edition_id: int, signature: str) -> None:
        """Raises InvalidToken unless `signature` opens this edition's web page."""
        if not hmac.compare_digest(signature.encode(), self.edition_signature(edition_id).encode()):
            raise InvalidToken("the link's signature does not match; copy the whole link from the email")

    def read(self, token: str, purpose: str, *, now: datetime, max_age: timedelta | None) -> TokenData:
        """The token's data; raises InvalidToken when forged, malformed or older than max_age."""
        try:
            body, mac = token.split(".")
            payload = _unb64(body)
            sid, lists, issued = payload.decode("ascii").split(":")
            data = TokenData(purpose, int(sid), tuple(int(x) for x in lists.split(",") if x),
                             int(issued))
        except (ValueError, UnicodeDecodeError):
            raise InvalidToken("the link is malformed; copy the whole link from the email") from None
        if not hmac.compare_digest(mac, self._mac(purpose, payload)):
            raise InvalidToken("the link's signature does not match; it was altered or is not ours")
        if max_age is not None and now.timestamp() - data.issued > max_age.total_seconds():
            raise InvalidToken(f"the link expired after {max_age}; subscribe again for a new one")
        return data


def edition_view_url(base_url: str, secret_key: str, edition_id: int, language: str) -> str:
    """The signed address of an edition's web page in a language, linked from its mail."""
    signature = Signer(secret_key).edition_signature(edition_id)
    return f"{base_url}/editions/{edition_id}?sig={signature}&lang={language}"
