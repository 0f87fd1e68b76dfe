"""When a failed push is tried again: the Standard Webhooks / Svix schedule, with jitter."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

# Delay before attempt n+1 after attempt n failed; attempt 1 is immediate. After the last, dead-letter.
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.1
MAX_RETRY_AFTER = timedelta(hours=24)


def next_attempt(
    attempts: int, now: datetime, *, rng: random.Random | None = None
) -> datetime | None:
    """When to try again after `attempts` failed attempts, or None when the delivery is dead."""
    if attempts < 1:
        return now
    if attempts >= MAX_ATTEMPTS:
        return None
    delay = RETRY_DELAYS[attempts - 1]
    # Jitter spreads retries of a partner that came back, so they don't all hit it at once.
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    return now + delay * factor


def retry_after(value: str | None, now: datetime) -> datetime | None:
    """The moment a `Retry-After` header (seconds or HTTP date) names, capped at 24 h; None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        at = now + timedelta(seconds=int(value))
    else:
        try:
            at = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if at.tzinfo is None:
            return None
    return min(max(at, now), now + MAX_RETRY_AFTER)
