"""Erasing a subscriber (GDPR): the address and name go, the ledger keeps an anonymous row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syndicate.digests import subscribers as subs
from syndicate.digests.erasure import erase, is_erased, placeholder_address
from syndicate.digests.ports import NewEdition
from syndicate.digests.states import DeliveryState, Frequency, SubscriberStatus, SubscriptionStatus
from syndicate.errors import NotFound
from tests.unit.fakes.digests import FakeDigestDb, FakeDigestUnitOfWork, FakeEditionStore

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def test_erasing_removes_the_person_and_keeps_anonymous_ledger_rows() -> None:
    db = FakeDigestDb()
    lst = db.add_list()
    reader = db.add_reader("Olga@Example.org", lst, name="Olga Petrova", language="ru")
    article = db.add_article("Story", NOW - timedelta(hours=1))
    day = NOW - timedelta(days=1)
    editions = FakeEditionStore(db)
    editions.add(NewEdition(lst.id, Frequency.DAILY, None, day, NOW, (article.id,), "s"), lst, now=NOW)
    (row,) = db.deliveries.values()
    row.state, row.last_reply = DeliveryState.BOUNCED, "550 5.1.1 <olga@example.org>: mailbox unavailable"
    queued_copy = editions.add(
        NewEdition(lst.id, Frequency.DAILY, "k2", day, NOW, (article.id,), "s2"), lst, now=NOW)
    assert queued_copy is not None

    done = erase(FakeDigestUnitOfWork(db), reader.id, now=NOW)

    gone = db.subscribers[reader.id]
    assert gone.email == placeholder_address(reader.id) and is_erased(gone.email)
    assert (gone.name, gone.language, gone.status) == ("", "en", SubscriberStatus.SUPPRESSED)
    assert gone.status_reason == "erased on request (GDPR) by admin on 2026-11-27"
    assert "olga" not in repr(db.subscribers).lower()
    assert [s.status for s in db.subscriptions.values()] == [SubscriptionStatus.UNSUBSCRIBED]
    # Both deliveries remain (counts add up); the queued one will never go; no reply names her.
    assert done.skipped == 1
    assert [(d.state, d.last_reply) for d in db.deliveries.values()] == [
        (DeliveryState.BOUNCED, "550 5.1.1 <[erased]>: mailbox unavailable"),
        (DeliveryState.SKIPPED, "skipped: erased")]
    # The same address subscribing again is a new reader, with a new consent.
    with FakeDigestUnitOfWork(db)() as work:
        again, created = subs.add_subscriber(work, email="olga@example.org", name="", language="ru",
                                             lists=[lst], confirmed=False, now=NOW)
        work.commit()
    assert created and again.id != reader.id and again.status == SubscriberStatus.PENDING


def test_erasing_an_unknown_subscriber_names_the_id() -> None:
    with pytest.raises(NotFound, match="subscriber 42"):
        erase(FakeDigestUnitOfWork(FakeDigestDb()), 42, now=NOW)
