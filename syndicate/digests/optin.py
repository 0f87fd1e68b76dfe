"""Double opt-in and self-service: subscribe requests, confirmation mail, signed-link actions."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from syndicate.digests import subscribers as subs
from syndicate.digests.addresses import normalize_email, rate_limit_key
from syndicate.digests.ratelimit import Counter
from syndicate.digests.states import SUPPRESSED
from syndicate.digests.tokens import CONFIRM, MANAGE, Signer, TokenData
from syndicate.errors import InvalidDigestInput, RateLimited
from syndicate.mail.mailer import Mailer, Outgoing
from syndicate.mail.render import Masthead, render_confirmation
from syndicate.mail.transport import SendResult
from syndicate.settings import Settings

log = logging.getLogger(__name__)
HOUR = 3600


@dataclass(frozen=True)
class PendingConfirmation:
    """Who to mail a confirmation link to, for which lists."""

    subscriber_id: int
    list_ids: tuple[int, ...]


@dataclass
class OptIn:
    """The subscriber's side of the lists: subscribe, confirm, unsubscribe, through signed links."""

    uow: subs.UnitOfWorkFactory
    mailer: Mailer
    counter: Counter
    signer: Signer
    settings: Settings
    now: Callable[[], datetime]

    def request_subscription(
        self, *, email: str, list_slugs: Sequence[str], language: str, client: str
    ) -> PendingConfirmation | None:
        """Record a subscribe request; returns what to confirm, or None when nothing may be mailed.

        Raises InvalidEmail / InvalidDigestInput for bad input and RateLimited when the client or
        the address asked too often. The outcome never depends on whether the address was subscribed.
        """
        s = self.settings
        address = normalize_email(email)
        slugs = list(dict.fromkeys(x.strip() for x in list_slugs if x.strip()))
        if not slugs:
            raise InvalidDigestInput("field 'lists' must name at least one list")
        if self.counter.hit(f"subscribe-client:{client}", HOUR) > s.subscribe_client_limit_per_hour:
            raise RateLimited(f"too many subscribe requests from {client}; try again within the hour")
        address_key = f"subscribe-address:{rate_limit_key(address)}"
        if self.counter.hit(address_key, HOUR) > s.subscribe_limit_per_hour:
            raise RateLimited("too many subscribe requests for this address; try again within the hour")
        with self.uow() as work:
            # A private list is joined only through an admin: to the public it does not exist.
            lists = [lst for lst in work.lists.by_slugs(slugs) if lst.is_public]
            unknown = sorted(set(slugs) - {lst.slug for lst in lists})
            if unknown:
                raise InvalidDigestInput(f"field 'lists': no list named {', '.join(map(repr, unknown))}")
            subscriber, _ = subs.add_subscriber(work, email=address, name="", language=language or "en",
                                                lists=lists, confirmed=False, now=self.now())
            work.commit()
        if subscriber.status in SUPPRESSED:
            return None
        return PendingConfirmation(subscriber.id, tuple(lst.id for lst in lists))

    def send_confirmation(self, pending: PendingConfirmation) -> None:
        """Mail the confirmation link (runs after the response; failures are logged)."""
        with self.mailer.open() as out:
            self._mail_confirmation(pending, out)

    def send_confirmations(
        self, pendings: Sequence[PendingConfirmation],
        on_each: Callable[[PendingConfirmation, str, SendResult | None], None],
    ) -> None:
        """Mail each confirmation link over one connection, at the configured send rate.

        `on_each(pending, address, result)` is called after every attempt; result is None when
        there was nothing to mail (the subscriber is gone or suppressed meanwhile).
        """
        if not pendings:
            return
        with self.mailer.open() as out:
            for pending in pendings:
                address, result = self._mail_confirmation(pending, out)
                on_each(pending, address, result)

    def _mail_confirmation(
        self, pending: PendingConfirmation, out: Outgoing
    ) -> tuple[str, SendResult | None]:
        with self.uow() as work:
            subscriber = work.subscribers.get(pending.subscriber_id)
            if subscriber is None or subscriber.status in SUPPRESSED:
                return (subscriber.email if subscriber else ""), None
            names = [lst.name for lst in work.lists.all() if lst.id in pending.list_ids]
        base = self.settings.base_url
        issued = self.now()
        token = self.signer.make(CONFIRM, pending.subscriber_id, pending.list_ids, issued)
        subject, html_body, text = render_confirmation(
            list_names=names, language=subscriber.language, confirm_url=f"{base}/confirm/{token}",
            base_url=base, masthead=Masthead(self.settings.site_title, self.settings.site_logo_url),
            expires_at=issued + timedelta(hours=self.settings.confirm_token_hours))
        result = out.send_simple(to=subscriber.email, subject=subject, text=text, html_body=html_body)
        if not result.ok:
            log.warning("confirmation to subscriber %s refused: %s", pending.subscriber_id,
                        result.describe())
        return subscriber.email, result

    def read_token(self, token: str, purpose: str) -> TokenData:
        """A verified token; confirm links expire after CONFIRM_TOKEN_HOURS, manage links never."""
        max_age = timedelta(hours=self.settings.confirm_token_hours) if purpose == CONFIRM else None
        return self.signer.read(token, purpose, now=self.now(), max_age=max_age)

    def confirm(self, token: str) -> str:
        """Activate the subscription a confirm link names; returns a manage token for preferences."""
        data = self.read_token(token, CONFIRM)
        with self.uow() as work:
            subs.confirm(work, data.subscriber_id, data.list_ids, self.now())
            work.commit()
        return self.signer.make(MANAGE, data.subscriber_id, data.list_ids, self.now())

    def unsubscribe(self, token: str) -> list[str]:
        """Leave the list(s) a manage link names; returns their names."""
        data = self.read_token(token, MANAGE)
        with self.uow() as work:
            subs.unsubscribe(work, data.subscriber_id, data.list_ids)
            names = [lst.name for lst in work.lists.all() if lst.id in data.list_ids]
            work.commit()
        return names

    def unsubscribe_all(self, token: str) -> None:
        """Leave every list, whichever lists the manage link names (the preferences page's button)."""
        data = self.read_token(token, MANAGE)
        with self.uow() as work:
            subs.unsubscribe(work, data.subscriber_id, [])
            work.commit()

    def preferences(self, token: str) -> subs.Preferences:
        """What the preferences page of a manage link shows; raises InvalidToken / NotFound."""
        return subs.preferences(self.uow, self.read_token(token, MANAGE).subscriber_id)

    def save_preferences(self, token: str, *, language: str, choices: dict[int, str | None]) -> None:
        """Apply the preferences form of a manage link (see subscribers.set_preferences)."""
        data = self.read_token(token, MANAGE)
        subs.set_preferences(self.uow, data.subscriber_id, language=language, choices=choices,
                             now=self.now())
