"""Partner signing secrets: `whsec_` + base64 of random bytes, and rotation with an overlap."""

from __future__ import annotations

import base64
import secrets as _random
from dataclasses import dataclass
from datetime import datetime, timedelta

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret: `whsec_` followed by base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(_random.token_bytes(SECRET_BYTES)).decode("ascii")


def new_webhook_id() -> str:
    """A unique, URL-safe message id for the `webhook-id` header."""
    return "msg_" + _random.token_urlsafe(18)


@dataclass(frozen=True)
class Rotation:
    """The outcome of a rotation: the new secret, and the old one still valid until `previous_until`."""

    secret: str
    previous_secret: str
    previous_until: datetime


def rotate(current: str, *, now: datetime, overlap: timedelta) -> Rotation:
    """A new secret; the current one keeps signing alongside it until now + overlap."""
    return Rotation(secret=new_secret(), previous_secret=current, previous_until=now + overlap)


def signing_secrets(
    secret: str, previous: str | None, previous_until: datetime | None, *, now: datetime
) -> list[str]:
    """The secrets to sign with right now: the current one, plus the previous during its overlap."""
    if previous and previous_until is not None and now < previous_until:
        return [secret, previous]
    return [secret]
