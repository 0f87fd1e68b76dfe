"""Read queries the admin pages and API share: delivery counts per edition and per partner."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from syndicate.digests.states import DeliveryState
from syndicate.storage import delivery_ledger as ledger
from syndicate.storage.counts import grouped_counts
from syndicate.storage.partner_models import DELIVERY_STATUSES, PartnerDeliveryRow

STATES = ledger.STATES


def counts_for(session: Session, edition_ids: Sequence[int]) -> dict[int, dict[DeliveryState, int]]:
    """Email deliveries per state for each edition; settled editions are not counted again."""
    return ledger.counts_many(session, edition_ids)


def status_counts(session: Session, partner_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Partner deliveries per status for each partner (on the (partner, status) index)."""
    return grouped_counts(
        session, PartnerDeliveryRow.partner_id, PartnerDeliveryRow.status, partner_ids, DELIVERY_STATUSES
    )
