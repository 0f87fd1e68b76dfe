"""Double opt-in and self-service: subscribe requests, confirmation mail, signed-link actions."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from email.utils import make_msgid, parseaddr
from typing import TYPE_CHECKING

from sqlalchemy import select

from syndicate.digests import subscribers as subs
from syndicate.digests.addresses import normalize_email, rate_limit_key
from syndicate.digests.ratelimit import Counter, make_counter, send_pace
from syndicate.digests.tokens import CONFIRM, MANAGE, Signer, TokenData
from syndicate.errors import InvalidDigestInput, RateLimited
from syndicate.mail.dkim import dkim_signer
from syndicate.mail.message import build_simple
from syndicate.mail.render import render_confirmation
from syndicate.mail.transport import SendResult, Transport, open_transport
from syndicate.storage.digest_models import MailingListRow, SubscriberRow

if TYPE_CHECKING:
    from syndicate.bootstrap import Container

log = logging.getLogger(__name__)
HOUR = 3600
_COUNTERS: dict[int, Counter] = {}


@dataclass(frozen=True)
class PendingConfirmation:
    """Who to mail a confirmation link to, for which lists; None-able by design (suppressed)."""

    subscriber_id: int
    list_ids: tuple[int, ...]


def counter_for(container: Container) -> Counter:
    """The rate counter of this container (Redis-shared when REDIS_URL is set)."""
    key = id(container)
    if key not in _COUNTERS:
        _COUNTERS[key] = make_counter(container.settings.redis_url)
    return _COUNTERS[key]


def request_subscription(
    container: Container, *, email: str, list_slugs: Sequence[str], language: str, client: str
) -> PendingConfirmation | None:
    """Record a subscribe request; returns what to confirm, or None when nothing may be mailed.

    Raises InvalidEmail / InvalidDigestInput for bad input and RateLimited when the client or the
    address asked too often. The outcome never depends on whether the address was subscribed.
    """
    s = container.settings
    address = normalize_email(email)
    slugs = list(dict.fromkeys(x.strip() for x in list_slugs if x.strip()))
    if not slugs:
        raise InvalidDigestInput("field 'lists' must name at least one list")
    counter = counter_for(container)
    if counter.hit(f"subscribe-client:{client}", HOUR) > s.subscribe_client_limit_per_hour:
        raise RateLimited(f"too many subscribe requests from {client}; try again within the hour")
    if counter.hit(f"subscribe-address:{rate_limit_key(address)}", HOUR) > s.subscribe_limit_per_hour:
        raise RateLimited("too many subscribe requests for this address; try again within the hour")
    with container.session_factory() as session:
        lists = list(session.scalars(select(MailingListRow).where(MailingListRow.slug.in_(slugs))))
        unknown = sorted(set(slugs) - {lst.slug for lst in lists})
        if unknown:
            raise InvalidDigestInput(f"field 'lists': no list named {', '.join(map(repr, unknown))}")
        row, _ = subs.add_subscriber(session, email=address, name="", language=language or "en",
                                     lists=lists, confirmed=False, now=container.now())
        session.commit()
        if row.status in (subs.BOUNCED, subs.COMPLAINED):
            return None
        return PendingConfirmation(row.id, tuple(lst.id for lst in lists))


def send_confirmation(container: Container, pending: PendingConfirmation) -> None:
    """Mail the confirmation link (runs after the response; failures are logged)."""
    with open_transport(container.settings) as transport:
        _mail_confirmation(container, pending, transport)


def send_confirmations(
    container: Container, pendings: Sequence[PendingConfirmation],
    on_each: Callable[[PendingConfirmation, str, SendResult | None], None],
) -> None:
    """Mail each confirmation link over one connection, at the configured send rate.

    `on_each(pending, address, result)` is called after every attempt; result is None when there
    was nothing to mail (the subscriber is gone or suppressed meanwhile).
    """
    if not pendings:
        return
    pace = send_pace(container.settings)
    with open_transport(container.settings) as transport:
        for pending in pendings:
            pace.wait()
            address, result = _mail_confirmation(container, pending, transport)
            on_each(pending, address, result)


def _mail_confirmation(
    container: Container, pending: PendingConfirmation, transport: Transport
) -> tuple[str, SendResult | None]:
    s = container.settings
    with container.session_factory() as session:
        row = session.get(SubscriberRow, pending.subscriber_id)
        if row is None or row.status in (subs.BOUNCED, subs.COMPLAINED):
            return (row.email if row else ""), None
        names = list(session.scalars(select(MailingListRow.name).where(
            MailingListRow.id.in_(pending.list_ids)).order_by(MailingListRow.id)))
        email, language = row.email, row.language
    token = Signer(s.resolved_secret_key).make(CONFIRM, pending.subscriber_id, pending.list_ids,
                                               container.now())
    subject, html_body, text = render_confirmation(
        list_names=names, language=language, confirm_url=f"{s.base_url}/confirm/{token}",
        base_url=s.base_url)
    data = build_simple(mail_from=s.mail_from, to=email, subject=subject, text=text, html_body=html_body,
                        message_id=make_msgid(domain=s.mail_domain))
    signer = dkim_signer(s)
    if signer is not None:
        data = signer.sign(data)
    result = transport.send(parseaddr(s.mail_from)[1], email, data)
    if not result.ok:
        log.warning("confirmation to subscriber %s refused: %s", pending.subscriber_id, result.describe())
    return email, result


def read_token(container: Container, token: str, purpose: str) -> TokenData:
    """A verified token; confirm links expire after CONFIRM_TOKEN_HOURS, manage links never."""
    max_age = timedelta(hours=container.settings.confirm_token_hours) if purpose == CONFIRM else None
    return Signer(container.settings.resolved_secret_key).read(token, purpose, now=container.now(),
                                                               max_age=max_age)


def confirm(container: Container, token: str) -> str:
    """Activate the subscription a confirm link names; returns a manage token for preferences."""
    data = read_token(container, token, CONFIRM)
    with container.session_factory() as session:
        subs.confirm(session, data.subscriber_id, data.list_ids, container.now())
        session.commit()
    return Signer(container.settings.resolved_secret_key).make(MANAGE, data.subscriber_id, data.list_ids,
                                                               container.now())


def unsubscribe(container: Container, token: str) -> list[str]:
    """Leave the list(s) a manage link names; returns their names."""
    data = read_token(container, token, MANAGE)
    with container.session_factory() as session:
        subs.unsubscribe(session, data.subscriber_id, data.list_ids)
        names = list(session.scalars(select(MailingListRow.name).where(
            MailingListRow.id.in_(data.list_ids))))
        session.commit()
    return names
