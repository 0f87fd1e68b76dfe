"""The registry's `PartnerStore` on the partners table (one short transaction per call)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from syndicate.errors import NotFound
from syndicate.partners.ports import (
    ADMIN_REASON,
    DeliveryStatus,
    Partner,
    PartnerInput,
    SigningKeys,
)
from syndicate.storage.partner_models import PartnerDeliveryRow, PartnerRow


def to_partner(row: PartnerRow) -> Partner:
    """The partner of a row, without its secrets."""
    return Partner(
        id=row.id, name=row.name, url=row.url, categories=tuple(row.categories or ()),
        language=row.language, rate_limit_per_minute=row.rate_limit_per_minute,
        active=row.active, disabled_at=row.disabled_at, disabled_reason=row.disabled_reason,
        failing_since=row.failing_since, previous_secret_until=row.previous_secret_until,
        created_at=row.created_at, updated_at=row.updated_at, embargoed=bool(row.embargoed),
    )


def partner_row(session: Session, partner_id: int) -> PartnerRow:
    """The partner's row; raises NotFound."""
    row = session.get(PartnerRow, partner_id)
    if row is None:
        raise NotFound("partner", partner_id)
    return row


class SqlPartnerStore:
    """PartnerStore over SQLAlchemy sessions from `session_factory`."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def add(self, fields: PartnerInput, keys: SigningKeys, *, now: datetime) -> Partner:
        """See PartnerStore.add."""
        row = PartnerRow(
            name=fields.name, url=fields.url, secret=keys.secret,
            previous_secret=keys.previous_secret, previous_secret_until=keys.previous_until,
            categories=list(fields.categories or ()), language=fields.language or None,
            rate_limit_per_minute=fields.rate_limit_per_minute or None, active=True,
            embargoed=bool(fields.embargoed), created_at=now, updated_at=now,
        )
        with self.session_factory() as session:
            session.add(row)
            session.commit()
            return to_partner(row)

    def get(self, partner_id: int) -> Partner:
        """See PartnerStore.get."""
        with self.session_factory() as session:
            return to_partner(partner_row(session, partner_id))

    def edit(self, partner_id: int, fields: PartnerInput, *, now: datetime) -> Partner:
        """See PartnerStore.edit."""
        with self.session_factory() as session:
            row = partner_row(session, partner_id)
            if fields.name is not None:
                row.name = fields.name
            if fields.url is not None:
                row.url = fields.url
            if fields.categories is not None:
                row.categories = list(fields.categories)
            if fields.language is not None:
                row.language = fields.language or None
            if fields.rate_limit_per_minute is not None:
                row.rate_limit_per_minute = fields.rate_limit_per_minute or None
            if fields.embargoed is not None:
                row.embargoed = fields.embargoed
            row.updated_at = now
            session.commit()
            return to_partner(row)

    def keys(self, partner_id: int) -> SigningKeys:
        """See PartnerStore.keys."""
        with self.session_factory() as session:
            row = partner_row(session, partner_id)
            return SigningKeys(row.secret, row.previous_secret, row.previous_secret_until)

    def set_keys(self, partner_id: int, keys: SigningKeys, *, now: datetime) -> None:
        """See PartnerStore.set_keys."""
        with self.session_factory() as session:
            row = partner_row(session, partner_id)
            row.secret = keys.secret
            row.previous_secret = keys.previous_secret
            row.previous_secret_until = keys.previous_until
            row.updated_at = now
            session.commit()

    def set_active(self, partner_id: int, active: bool, *, now: datetime) -> Partner:
        """See PartnerStore.set_active."""
        with self.session_factory() as session:
            row = partner_row(session, partner_id)
            row.active = active
            row.updated_at = now
            if active:
                row.disabled_at = row.disabled_reason = row.failing_since = None
                session.execute(
                    update(PartnerDeliveryRow)
                    .where(PartnerDeliveryRow.partner_id == partner_id,
                           PartnerDeliveryRow.status == DeliveryStatus.PENDING.value)
                    .values(next_attempt_at=now, enqueued_at=None, locked_until=None)
                )
            else:
                row.disabled_at, row.disabled_reason = now, ADMIN_REASON
            session.commit()
            return to_partner(row)
