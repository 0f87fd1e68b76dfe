"""What a partner's reply means: the delivery's next state, and what changes on the partner.

2xx delivers (and ends a partner's failing streak); 410 Gone kills the delivery and disables the
partner; anything else (or no answer) is retried on the schedule, honouring Retry-After on 429/503,
until the schedule ends (dead). A partner whose every push failed for `disable_after` is disabled.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

from syndicate.partners import schedule
from syndicate.partners.ports import (
    AttemptOutcome,
    AttemptRecord,
    Claim,
    DeliveryStatus,
    PushFailed,
    PushResponse,
)


def describe(response: PushResponse) -> str | None:
    """The error to log for an answer, or None for a 2xx."""
    code = response.status_code
    if 200 <= code < 300:
        return None
    if 300 <= code < 400:
        return f"HTTP {code}: redirects are not followed"
    return f"HTTP {code}: {response.body_start[:200]}".rstrip(": ")


def judge(
    claim: Claim, reply: PushResponse | PushFailed, now: datetime, *, disable_after: timedelta,
    rng: random.Random | None = None,
) -> tuple[AttemptOutcome, AttemptRecord]:
    """The outcome of one attempt made at `now`, and the record that stores it."""
    code: int | None = None
    error: str | None = None
    elapsed_s = 0.0
    if isinstance(reply, PushFailed):
        error = reply.error
    else:
        code, error, elapsed_s = reply.status_code, describe(reply), reply.elapsed_s
    base = AttemptRecord(
        delivery_id=claim.delivery_id, partner_id=claim.partner_id, attempted_at=now,
        status_code=code, error=error, duration_ms=int(elapsed_s * 1000),
        status=DeliveryStatus.PENDING,
    )
    if code is not None and 200 <= code < 300:
        return AttemptOutcome.DELIVERED, replace(
            base, status=DeliveryStatus.DELIVERED, partner_recovered=claim.failing_since is not None,
            release_next=True,
        )
    if code == 410:
        gone = f"endpoint answered 410 Gone on {now.isoformat()}"
        return AttemptOutcome.DEAD, replace(
            base, status=DeliveryStatus.DEAD, disable_reason=gone, release_next=True
        )
    failing_since = claim.failing_since or now
    reason: str | None = None
    if now - failing_since >= disable_after:
        days = disable_after / timedelta(days=1)
        reason = (f"every push failed since {failing_since.isoformat()} ({days:g} days); "
                  f"last error: {error}")
    failing = replace(
        base, partner_failing_since=None if claim.failing_since else now, disable_reason=reason
    )
    later = schedule.next_attempt(claim.attempts, now, rng=rng)
    if later is None:
        return AttemptOutcome.DEAD, replace(failing, status=DeliveryStatus.DEAD, release_next=True)
    honoured = None
    if isinstance(reply, PushResponse) and reply.status_code in (429, 503):
        honoured = schedule.retry_after(reply.retry_after, now)
    return AttemptOutcome.FAILED, replace(failing, next_attempt_at=honoured or later)

