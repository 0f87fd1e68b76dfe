"""Standard Webhooks 1.0 request headers: one `v1,` signature per secret, space-separated."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from math import floor

from standardwebhooks import Webhook


def signed_headers(
    webhook_id: str, timestamp: datetime, body: str, secrets: Sequence[str]
) -> dict[str, str]:
    """The webhook-id/-timestamp/-signature headers for `body` signed with every secret given."""
    if not secrets:
        raise ValueError("at least one signing secret is required")
    signatures = " ".join(Webhook(s).sign(webhook_id, timestamp, body) for s in secrets)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(floor(timestamp.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }
