"""The digest vocabulary: delivery states, subscriber and subscription statuses, frequencies.

The values are stored in the database and shown to users (CLI, admin pages, API): never change
one. Each is a `StrEnum`, so a member compares and serializes as its value.
"""

from __future__ import annotations

from enum import StrEnum

from syndicate.errors import InvalidDigestInput


class DeliveryState(StrEnum):
    """A delivery row of the ledger: `queued → sending → sent | failed | bounced | skipped`."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    BOUNCED = "bounced"
    SKIPPED = "skipped"


#: Every state in display order (CLI counts, admin columns).
STATES: tuple[DeliveryState, ...] = tuple(DeliveryState)
#: States a row leaves only through a resend (or a later bounce report, for `sent`).
FINAL_STATES: tuple[DeliveryState, ...] = (
    DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.BOUNCED, DeliveryState.SKIPPED)


class SubscriberStatus(StrEnum):
    """A subscriber (one address): whether it may be mailed at all."""

    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    #: Suppressed: a permanent SMTP failure or a bounce report.
    BOUNCED = "bounced"
    #: Suppressed: a spam complaint (a feedback report).
    COMPLAINED = "complained"
    #: Suppressed: an admin's "never mail again"; `status_reason` says who and why.
    SUPPRESSED = "suppressed"


#: Addresses that stay suppressed whatever the subscriber or an import asks: they get no mail.
SUPPRESSED: tuple[SubscriberStatus, ...] = (
    SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED, SubscriberStatus.SUPPRESSED)


def parse_state(text: str, *, option: str = "--status") -> DeliveryState:
    """The delivery state named `text`; InvalidDigestInput naming the option and the allowed ones."""
    try:
        return DeliveryState(text)
    except ValueError:
        raise InvalidDigestInput(f"{option}: {text!r} is not one of {', '.join(STATES)}") from None


def parse_subscriber_status(text: str, *, option: str = "status") -> SubscriberStatus:
    """The subscriber status named `text`; InvalidDigestInput naming the option and the allowed ones."""
    try:
        return SubscriberStatus(text)
    except ValueError:
        allowed = ", ".join(SubscriberStatus)
        raise InvalidDigestInput(f"{option}: {text!r} is not one of {allowed}") from None


class SubscriptionStatus(StrEnum):
    """A subscriber's membership of one list."""

    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"


class Frequency(StrEnum):
    """How often a list (or a subscriber of a list allowing it) receives editions."""

    INSTANT = "instant"
    DAILY = "daily"
    WEEKLY = "weekly"


FREQUENCIES: tuple[Frequency, ...] = tuple(Frequency)
