"""Read queries the admin pages and API share: delivery counts per edition and per partner."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select

from syndicate.storage.digest_models import DeliveryRow
from syndicate.storage.partner_models import DELIVERY_STATUSES, PartnerDeliveryRow

STATES = ("queued", "sending", "sent", "failed", "bounced", "skipped")


def counts_for(session: Any, edition_ids: list[int]) -> dict[int, dict[str, int]]:
    """Deliveries per state for each edition (one grouped query on the (edition, state) index)."""
    result: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATES, 0))
    if edition_ids:
        stmt = (
            select(DeliveryRow.edition_id, DeliveryRow.state, func.count())
            .where(DeliveryRow.edition_id.in_(edition_ids))
            .group_by(DeliveryRow.edition_id, DeliveryRow.state)
        )
        for edition_id, state, n in session.execute(stmt):
            result[edition_id][state] = n
    return {eid: result[eid] for eid in edition_ids}


def status_counts(session: Any, partner_ids: list[int]) -> dict[int, dict[str, int]]:
    """Deliveries per status for each partner (grouped on the (partner, status) index)."""
    result: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(DELIVERY_STATUSES, 0))
    if partner_ids:
        stmt = (
            select(PartnerDeliveryRow.partner_id, PartnerDeliveryRow.status, func.count())
            .where(PartnerDeliveryRow.partner_id.in_(partner_ids))
            .group_by(PartnerDeliveryRow.partner_id, PartnerDeliveryRow.status)
        )
        for partner_id, status, n in session.execute(stmt):
            result[partner_id][status] = n
    return {pid: result[pid] for pid in partner_ids}
