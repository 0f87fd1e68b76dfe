"""Erasing a subscriber for a GDPR request: the address and its personal data go, the ledger stays.

Invariants:
- the subscriber row survives under a placeholder address (`erased-ID@erased.invalid`, the
  reserved `.invalid` TLD, unique per id), so every delivery row keeps a subscriber to point at and
  edition counts never change; nothing left names the person;
- an erased subscriber is `suppressed`: it is never mailed, and its queued deliveries are skipped;
- the same address subscribing again later is a new subscriber (a new consent), not this one;
- erasing twice is harmless (the second call finds the placeholder and changes nothing visible).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syndicate.digests.subscribers import UnitOfWorkFactory
from syndicate.errors import NotFound

ERASED_DOMAIN = "erased.invalid"


def placeholder_address(subscriber_id: int) -> str:
    """The address an erased subscriber is stored under."""
    return f"erased-{subscriber_id}@{ERASED_DOMAIN}"


def is_erased(email: str) -> bool:
    """True for an address `erase` left behind."""
    return email.endswith("@" + ERASED_DOMAIN)


@dataclass(frozen=True)
class Erasure:
    """What an erase did: the subscriber id and how many queued deliveries it skipped."""

    subscriber_id: int
    skipped: int


def erase(uow: UnitOfWorkFactory, subscriber_id: int, *, now: datetime, by: str = "admin") -> Erasure:
    """Erase the subscriber's address, name and language, leave every list and suppress it; its
    delivery rows stay, anonymous. Raises NotFound naming the id."""
    reason = f"erased on request (GDPR) by {by} on {now.date().isoformat()}"
    with uow() as work:
        subscriber = work.subscribers.get(subscriber_id)
        if subscriber is None:
            raise NotFound("subscriber", subscriber_id)
        skipped = work.subscribers.skip_queued_deliveries(subscriber_id, reply="skipped: erased", now=now)
        work.subscribers.erase(subscriber_id, placeholder=placeholder_address(subscriber_id), reason=reason)
        work.commit()
    return Erasure(subscriber_id, skipped)
