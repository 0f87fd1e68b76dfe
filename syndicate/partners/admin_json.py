"""The JSON an admin sees of partners and their delivery log (admin API and `--json` CLI output)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syndicate.partners.ports import DeliveryEntry, Partner, PartnerOverview


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def partner_json(partner: Partner) -> dict[str, Any]:
    """A partner's stored fields (never its secrets)."""
    return {
        "id": partner.id,
        "name": partner.name,
        "url": partner.url,
        "categories": list(partner.categories),
        "language": partner.language,
        "rate_limit_per_minute": partner.rate_limit_per_minute,
        "embargoed": partner.embargoed,
        "active": partner.active,
        "disabled_at": _iso(partner.disabled_at),
        "disabled_reason": partner.disabled_reason,
        "failing_since": _iso(partner.failing_since),
        "previous_secret_until": _iso(partner.previous_secret_until),
        "created_at": partner.created_at.isoformat(),
        "updated_at": partner.updated_at.isoformat(),
    }


def overview_json(overview: PartnerOverview) -> dict[str, Any]:
    """A partner with `deliveries`: its count per status."""
    counts = {status.value: n for status, n in overview.deliveries.items()}
    return {**partner_json(overview.partner), "deliveries": counts}


def delivery_json(entry: DeliveryEntry) -> dict[str, Any]:
    """One delivery of the log with its attempts (`log`), oldest first."""
    return {
        "id": entry.id, "webhook_id": entry.webhook_id, "event_id": entry.event_id,
        "event_type": entry.event_type, "article_id": entry.article_id, "status": entry.status.value,
        "attempts": entry.attempts, "next_attempt_at": _iso(entry.next_attempt_at),
        "last_status_code": entry.last_status_code, "last_error": entry.last_error,
        "created_at": _iso(entry.created_at), "delivered_at": _iso(entry.delivered_at),
        "log": [
            {"at": _iso(a.attempted_at), "status_code": a.status_code, "error": a.error,
             "duration_ms": a.duration_ms}
            for a in entry.log
        ],
    }
