"""Managing partners: register, edit, rotate the secret, enable/disable, replay, read the log."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from syndicate.domain.languages import is_language_tag
from syndicate.errors import InvalidPartner, NotFound
from syndicate.partners import service, store
from syndicate.partners.content import article_data, push_body
from syndicate.partners.guard import check_url
from syndicate.partners.secrets import new_secret, new_webhook_id, rotate
from syndicate.storage.articles import ArticleQueries
from syndicate.storage.partner_models import (
    DEAD,
    DELIVERY_STATUSES,
    PENDING,
    PartnerDeliveryRow,
    PartnerRow,
    partner_columns,
)

if TYPE_CHECKING:
    from syndicate.bootstrap import Container

ADMIN_REASON = "disabled by an admin"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class PartnerInput:
    """Validated partner fields; None means "leave unchanged" on edit."""

    name: str | None = None
    url: str | None = None
    categories: Sequence[str] | None = None
    language: str | None = None
    rate_limit_per_minute: int | None = None


def _validate(data: PartnerInput, container: Container) -> PartnerInput:
    if data.categories is not None:
        # Article categories are stored lowercased; filters must compare equal.
        data = dataclasses.replace(data, categories=[c.strip().lower() for c in data.categories])
    if data.name is not None and not data.name.strip():
        raise InvalidPartner("name", "must not be empty")
    if data.name is not None and len(data.name) > 200:
        raise InvalidPartner("name", f"is {len(data.name)} characters; at most 200")
    if data.url is not None:
        check_url(data.url, allow_private=container.settings.partner_allow_private)
    for slug in data.categories or ():
        if not _SLUG.match(slug):
            raise InvalidPartner("categories", f"{slug!r} is not a category slug")
    if data.language and not is_language_tag(data.language):
        raise InvalidPartner("language", f"{data.language!r} is not a BCP 47 language tag")
    if data.rate_limit_per_minute is not None and data.rate_limit_per_minute < 0:
        raise InvalidPartner("rate_limit_per_minute", f"{data.rate_limit_per_minute} is negative")
    return data


def add_partner(container: Container, data: PartnerInput) -> tuple[dict[str, Any], str]:
    """Register a partner (URL checked by the guard); returns its JSON and its secret, shown once."""
    if data.name is None or data.url is None:
        raise InvalidPartner("name" if data.name is None else "url", "is required")
    name, url = data.name.strip(), data.url
    data = _validate(data, container)
    now = container.now()
    secret = new_secret()
    row = PartnerRow(
        name=name, url=url, secret=secret, categories=list(data.categories or ()),
        language=data.language or None, rate_limit_per_minute=data.rate_limit_per_minute or None,
        active=True, created_at=now, updated_at=now,
    )
    with container.session_factory() as session:
        session.add(row)
        session.commit()
        return partner_columns(row), secret


def _get(session: Session, partner_id: int) -> PartnerRow:
    row = session.get(PartnerRow, partner_id)
    if row is None:
        raise NotFound("partner", partner_id)
    return row


def list_partners(container: Container) -> list[dict[str, Any]]:
    """Every partner with its delivery counts, oldest first."""
    with container.session_factory() as session:
        rows = session.scalars(select(PartnerRow).order_by(PartnerRow.id)).all()
        return [{**partner_columns(r), "deliveries": store.status_counts(session, r.id)} for r in rows]


def show_partner(container: Container, partner_id: int) -> dict[str, Any]:
    """One partner with its delivery counts; NotFound when missing."""
    with container.session_factory() as session:
        row = _get(session, partner_id)
        return {**partner_columns(row), "deliveries": store.status_counts(session, row.id)}


def alerts(container: Container) -> list[dict[str, Any]]:
    """Partners syndicate disabled by itself (410 Gone, or failing for days): the admin must act."""
    with container.session_factory() as session:
        stmt = select(PartnerRow).where(
            PartnerRow.active.is_(False), PartnerRow.disabled_reason != ADMIN_REASON
        )
        return [partner_columns(r) for r in session.scalars(stmt.order_by(PartnerRow.disabled_at))]


def edit_partner(container: Container, partner_id: int, data: PartnerInput) -> dict[str, Any]:
    """Change the given fields (a new URL is checked by the guard); returns the partner."""
    data = _validate(data, container)
    with container.session_factory() as session:
        row = _get(session, partner_id)
        if data.name is not None:
            row.name = data.name.strip()
        if data.url is not None:
            row.url = data.url
        if data.categories is not None:
            row.categories = list(data.categories)
        if data.language is not None:
            row.language = data.language or None
        if data.rate_limit_per_minute is not None:
            row.rate_limit_per_minute = data.rate_limit_per_minute or None
        row.updated_at = container.now()
        session.commit()
        return partner_columns(row)


def rotate_secret(container: Container, partner_id: int) -> tuple[str, str]:
    """A new secret; the old one keeps signing alongside until the overlap ends. Returns (secret, until)."""
    now = container.now()
    overlap = timedelta(hours=container.settings.partner_secret_overlap_hours)
    with container.session_factory() as session:
        row = _get(session, partner_id)
        rotation = rotate(row.secret, now=now, overlap=overlap)
        row.secret = rotation.secret
        row.previous_secret = rotation.previous_secret
        row.previous_secret_until = rotation.previous_until
        row.updated_at = now
        session.commit()
    return rotation.secret, rotation.previous_until.isoformat()


def set_active(container: Container, partner_id: int, active: bool) -> dict[str, Any]:
    """Enable (its pending deliveries become due now) or disable a partner."""
    now = container.now()
    with container.session_factory() as session:
        row = _get(session, partner_id)
        row.active = active
        row.updated_at = now
        if active:
            row.disabled_at = row.disabled_reason = row.failing_since = None
            session.execute(
                update(PartnerDeliveryRow)
                .where(PartnerDeliveryRow.partner_id == partner_id, PartnerDeliveryRow.status == PENDING)
                .values(next_attempt_at=now, enqueued_at=None, locked_until=None)
            )
        else:
            row.disabled_at, row.disabled_reason = now, ADMIN_REASON
        session.commit()
        return partner_columns(row)


def resend(
    container: Container, partner_id: int, *, article_id: int | None = None, failed: bool = False
) -> list[int]:
    """Queue again exactly the rows named (the partner's rows of one article, or its dead rows).

    The rows keep their webhook-id and body. An article the partner never got gets one new row
    for the article's latest event. Returns the delivery ids queued.
    """
    if (article_id is None) == (not failed):
        raise InvalidPartner("resend", "name exactly one of --article ID or --failed")
    now = container.now()
    with container.session_factory() as session:
        partner = _get(session, partner_id)
        stmt = select(PartnerDeliveryRow).where(PartnerDeliveryRow.partner_id == partner_id)
        if failed:
            stmt = stmt.where(PartnerDeliveryRow.status == DEAD)
        else:
            stmt = stmt.where(PartnerDeliveryRow.article_id == article_id)
        rows = list(session.scalars(stmt.order_by(PartnerDeliveryRow.event_id)))
        if not rows and article_id is not None:
            rows = [_new_row_for_article(container, session, partner, article_id)]
        for row in rows:
            row.status, row.attempts, row.next_attempt_at = PENDING, 0, now
            row.locked_until = row.enqueued_at = row.delivered_at = None
        session.commit()
        ids = [r.id for r in rows]
    if partner.active:
        service.enqueue(container, ids)
    return ids


def _new_row_for_article(
    container: Container, session: Session, partner: PartnerRow, article_id: int
) -> PartnerDeliveryRow:
    article = ArticleQueries(session).by_id(article_id)
    latest = store.latest_event_id(session, article_id)
    if article is None or latest is None:
        raise NotFound("article", article_id)
    event_id, event_type = latest
    timestamp = store.event_time(session, event_id, container.now())
    row = PartnerDeliveryRow(
        partner_id=partner.id, event_id=event_id, article_id=article_id, event_type=event_type,
        webhook_id=new_webhook_id(), status=PENDING, attempts=0, created_at=container.now(),
    )
    base_url = container.settings.base_url
    store.ensure_payload(
        session, event_id, lambda: push_body(event_type, timestamp, article_data(article, base_url)),
        now=container.now(),
    )
    session.add(row)
    session.flush()
    return row


def delivery_log(
    container: Container, partner_id: int, *, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """A partner's deliveries, newest first, each with its attempts."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise InvalidPartner("status", f"{status!r} is not one of {', '.join(DELIVERY_STATUSES)}")
    with container.session_factory() as session:
        _get(session, partner_id)
        rows = store.deliveries_of(session, partner_id, status=status, limit=limit)
        attempts = store.attempts_of(session, [r.id for r in rows])
        return [_delivery_json(r, attempts[r.id]) for r in rows]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _delivery_json(row: PartnerDeliveryRow, attempts: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": row.id, "webhook_id": row.webhook_id, "event_id": row.event_id,
        "event_type": row.event_type, "article_id": row.article_id, "status": row.status,
        "attempts": row.attempts, "next_attempt_at": _iso(row.next_attempt_at),
        "last_status_code": row.last_status_code, "last_error": row.last_error,
        "created_at": _iso(row.created_at), "delivered_at": _iso(row.delivered_at),
        "log": [
            {"at": _iso(a.attempted_at), "status_code": a.status_code, "error": a.error,
             "duration_ms": a.duration_ms}
            for a in attempts
        ],
    }
