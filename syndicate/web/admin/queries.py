"""Read queries the admin pages and API share: delivery counts per edition and per partner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from syndicate.digests import ledger
from syndicate.storage.partner_models import DELIVERY_STATUSES, PartnerDeliveryRow

STATES = ledger.STATES


def _grouped_counts(
    session: Session, owner: InstrumentedAttribute[Any], state: InstrumentedAttribute[Any],
    owner_ids: Sequence[int], states: Sequence[str],
) -> dict[int, dict[str, int]]:
    """Rows per state for each owner, every state present (0 when none); one grouped query."""
    result = {owner_id: dict.fromkeys(states, 0) for owner_id in owner_ids}
    if owner_ids:
        stmt = select(owner, state, func.count()).where(owner.in_(owner_ids)).group_by(owner, state)
        for owner_id, value, n in session.execute(stmt):
            result[owner_id][value] = n
    return result


def counts_for(session: Session, edition_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Email deliveries per state for each edition; settled editions are not counted again."""
    return ledger.counts_many(session, edition_ids)


def status_counts(session: Session, partner_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Partner deliveries per status for each partner (on the (partner, status) index)."""
    return _grouped_counts(
        session, PartnerDeliveryRow.partner_id, PartnerDeliveryRow.status, partner_ids, DELIVERY_STATUSES
    )
