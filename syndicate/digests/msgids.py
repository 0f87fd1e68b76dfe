"""Message-IDs of digest deliveries: they name the delivery, with a tag only we can make.

`<EDITION.DELIVERY.ATTEMPT.TAG@DOMAIN>`: TAG is an HMAC of the three numbers under SECRET_KEY
(base32, 10 characters). A bounce or complaint report names the message it is about by this
Message-ID; the tag means a forged report cannot bounce or suppress somebody else's address,
since ids alone are easy to guess.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import lru_cache

_SHAPE = re.compile(r"^<?(\d+)\.(\d+)\.(\d+)\.([a-z2-7]{10})@([^>\s]+)>?$")


@dataclass(frozen=True)
class DeliveryRef:
    """The delivery a Message-ID of ours names."""

    edition_id: int
    delivery_id: int
    attempt: int


@lru_cache(maxsize=8)
def _keyed(secret: str) -> hmac.HMAC:
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def _tag(secret: str, edition_id: int, delivery_id: int, attempt: int) -> str:
    mac = _keyed(secret).copy()  # keyed once per secret: the key schedule cost more than the MAC
    mac.update(f"message-id:{edition_id}.{delivery_id}.{attempt}".encode())
    # 10 base32 characters carry 50 bits: the first 7 bytes of the MAC are enough.
    return base64.b32encode(mac.digest()[:7]).decode("ascii").lower()[:10]


def delivery_message_id(secret: str, domain: str, edition_id: int, delivery_id: int, attempt: int) -> str:
    """The Message-ID header value (with angle brackets) of one delivery attempt."""
    return f"<{edition_id}.{delivery_id}.{attempt}.{_tag(secret, edition_id, delivery_id, attempt)}@{domain}>"


def read_delivery_message_id(secret: str, domain: str, value: str) -> DeliveryRef | None:
    """The delivery a Message-ID names, or None when it is not ours (shape, domain or tag)."""
    found = _SHAPE.match(value.strip())
    if found is None or found.group(5).lower() != domain.lower():
        return None
    edition_id, delivery_id, attempt = (int(found.group(n)) for n in (1, 2, 3))
    if not hmac.compare_digest(found.group(4), _tag(secret, edition_id, delivery_id, attempt)):
        return None
    return DeliveryRef(edition_id, delivery_id, attempt)
