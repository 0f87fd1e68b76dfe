"""Lists and subscribers: creation, CSV import, double opt-in, unsubscribe and preferences."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from syndicate.digests.addresses import normalize_email
from syndicate.domain.languages import is_language_tag
from syndicate.errors import InvalidDigestInput, InvalidEmail, NotFound
from syndicate.mail.strings import mail_language
from syndicate.storage.digest_models import MailingListRow, SubscriberRow, SubscriptionRow

FREQUENCIES: Final = ("instant", "daily", "weekly")
PENDING, ACTIVE, UNSUBSCRIBED, BOUNCED, COMPLAINED = (
    "pending", "active", "unsubscribed", "bounced", "complained")
_SLUG_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


def check_frequency(value: str) -> str:
    """The frequency; raises InvalidDigestInput naming it unless instant, daily or weekly."""
    if value not in FREQUENCIES:
        raise InvalidDigestInput(f"frequency must be one of {', '.join(FREQUENCIES)}, got {value!r}")
    return value


def create_list(
    session: Session, *, slug: str, name: str, frequency: str, language: str | None,
    categories: Sequence[str], custom_frequency: bool, now: datetime,
) -> MailingListRow:
    """Create a list (the caller commits); raises InvalidDigestInput on a bad or taken slug."""
    if not slug or set(slug) - _SLUG_CHARS or len(slug) > 63:
        raise InvalidDigestInput(f"list slug must be 1-63 of a-z 0-9 - _, got {slug!r}")
    if not name.strip():
        raise InvalidDigestInput("list name must not be empty")
    if language and not is_language_tag(language):
        raise InvalidDigestInput(f"--language: {language!r} is not a language tag such as en or ru-RU")
    if session.scalar(select(MailingListRow.id).where(MailingListRow.slug == slug)) is not None:
        raise InvalidDigestInput(f"list slug {slug!r} is already taken")
    row = MailingListRow(
        slug=slug, name=name.strip(), frequency=check_frequency(frequency),
        language=language or None, categories=list(dict.fromkeys(categories)),
        custom_frequency=custom_frequency, created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def list_by_slug(session: Session, slug: str) -> MailingListRow:
    """The list with this slug; raises NotFound."""
    row = session.scalar(select(MailingListRow).where(MailingListRow.slug == slug))
    if row is None:
        raise NotFound("list", slug)
    return row


def all_lists(session: Session) -> list[MailingListRow]:
    """Every list, by id."""
    return list(session.scalars(select(MailingListRow).order_by(MailingListRow.id)))


def add_subscriber(
    session: Session, *, email: str, name: str, language: str, lists: Sequence[MailingListRow],
    confirmed: bool, now: datetime,
) -> tuple[SubscriberRow, bool]:
    """Find or create the subscriber and subscribe it to `lists`; returns (row, created).

    A confirmed add activates the subscriber (unless bounced or complained: suppressed
    addresses stay suppressed) and its subscriptions; an unconfirmed one leaves them pending.
    """
    address = normalize_email(email)
    row = session.scalar(select(SubscriberRow).where(SubscriberRow.email == address))
    created = row is None
    if row is None:
        row = SubscriberRow(email=address, name=name.strip()[:200], language=mail_language(language),
                            status=PENDING, created_at=now)
        session.add(row)
        session.flush()
    if confirmed and row.status in (PENDING, UNSUBSCRIBED):
        row.status, row.confirmed_at = ACTIVE, now
    sub_status = ACTIVE if confirmed else PENDING
    for lst in lists:
        sub = session.get(SubscriptionRow, (row.id, lst.id))
        if sub is None:
            session.add(SubscriptionRow(subscriber_id=row.id, list_id=lst.id, status=sub_status,
                                        created_at=now))
        elif confirmed or sub.status != ACTIVE:
            sub.status = sub_status if sub.status != ACTIVE else ACTIVE
    session.flush()
    return row, created


@dataclass
class ImportReport:
    """What a CSV import did: counts, and one message per bad line."""

    imported: int = 0
    existing: int = 0
    errors: list[str] = field(default_factory=list)
    #: Subscribers whose subscription to the list is pending after an unconfirmed import (new or
    #: not yet confirmed), minus suppressed addresses: they are owed a confirmation mail.
    to_confirm: list[int] = field(default_factory=list)


def import_csv(
    session: Session, path: Path, *, lst: MailingListRow, confirmed: bool, now: datetime
) -> ImportReport:
    """Import `email[,name,language]` rows; bad rows are reported by line, the rest imported."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidDigestInput(f"{path}: cannot read as UTF-8 CSV: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if "email" not in header:
        raise InvalidDigestInput(f"{path}: line 1: header row must name an 'email' column, got {header}")
    col: dict[str, int] = {
        name: header.index(name) for name in ("email", "name", "language") if name in header}
    report = ImportReport()
    seen: set[str] = set()
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue

        def cell(name: str, cells: list[str] = cells) -> str:
            i = col.get(name)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        try:
            address = normalize_email(cell("email"))
        except InvalidEmail as exc:
            report.errors.append(f"{path}: line {line}: {exc}")
            continue
        if address in seen:
            report.errors.append(f"{path}: line {line}: email {address!r} repeats an earlier line")
            continue
        seen.add(address)
        row, created = add_subscriber(session, email=address, name=cell("name"),
                                      language=cell("language") or "en", lists=[lst],
                                      confirmed=confirmed, now=now)
        subscription = session.get(SubscriptionRow, (row.id, lst.id))
        if (not confirmed and row.status not in (BOUNCED, COMPLAINED)
                and subscription is not None and subscription.status == PENDING):
            report.to_confirm.append(row.id)
        if created:
            report.imported += 1
        else:
            report.existing += 1
    return report


def subscribers_of(session: Session, lst: MailingListRow) -> list[tuple[SubscriberRow, SubscriptionRow]]:
    """The subscribers of a list with their subscription, by subscriber id."""
    stmt = (
        select(SubscriberRow, SubscriptionRow)
        .join(SubscriptionRow, SubscriptionRow.subscriber_id == SubscriberRow.id)
        .where(SubscriptionRow.list_id == lst.id)
        .order_by(SubscriberRow.id)
    )
    return [(s, sub) for s, sub in session.execute(stmt)]


def confirm(session: Session, subscriber_id: int, list_ids: Sequence[int], now: datetime) -> SubscriberRow:
    """Activate a pending subscriber and the subscriptions it asked for; idempotent."""
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        raise NotFound("subscriber", subscriber_id)
    if row.status in (PENDING, UNSUBSCRIBED):
        row.status, row.confirmed_at = ACTIVE, now
    session.execute(
        update(SubscriptionRow)
        .where(SubscriptionRow.subscriber_id == subscriber_id, SubscriptionRow.list_id.in_(list_ids))
        .values(status=ACTIVE)
    )
    return row


def unsubscribe(session: Session, subscriber_id: int, list_ids: Sequence[int]) -> SubscriberRow:
    """Leave the given lists (all lists when none is given); idempotent.

    With no active subscription left the subscriber itself becomes unsubscribed.
    """
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        raise NotFound("subscriber", subscriber_id)
    stmt = update(SubscriptionRow).where(SubscriptionRow.subscriber_id == subscriber_id)
    if list_ids:
        stmt = stmt.where(SubscriptionRow.list_id.in_(list_ids))
    session.execute(stmt.values(status=UNSUBSCRIBED))
    left = session.scalar(select(SubscriptionRow.list_id).where(
        SubscriptionRow.subscriber_id == subscriber_id, SubscriptionRow.status == ACTIVE).limit(1))
    if left is None and row.status in (ACTIVE, PENDING):
        row.status = UNSUBSCRIBED
    return row


def set_preferences(
    session: Session, subscriber_id: int, *, language: str, choices: dict[int, str | None], now: datetime
) -> SubscriberRow:
    """Apply the preferences form: language, and for each list id subscribed or not + frequency.

    `choices` maps every list the subscriber may choose to a frequency (None: the list's own),
    absent lists are left; a frequency is stored only where the list allows its own choice.
    """
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        raise NotFound("subscriber", subscriber_id)
    row.language = mail_language(language)
    for lst in all_lists(session):
        sub = session.get(SubscriptionRow, (row.id, lst.id))
        if lst.id not in choices:
            if sub is not None:
                sub.status = UNSUBSCRIBED
            continue
        freq = choices[lst.id]
        freq = check_frequency(freq) if freq and lst.custom_frequency else None
        if sub is None:
            session.add(SubscriptionRow(subscriber_id=row.id, list_id=lst.id, status=ACTIVE,
                                        frequency=freq, created_at=now))
        else:
            sub.status, sub.frequency = ACTIVE, freq
    if choices and row.status == UNSUBSCRIBED:
        row.status = ACTIVE
    session.flush()
    if not choices and row.status == ACTIVE:
        row.status = UNSUBSCRIBED
    return row
