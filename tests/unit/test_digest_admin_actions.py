"""Admin use cases on the fakes: one reader added or edited, readers owed a confirmation, and a
test send ("proof") of a list's next edition that stores nothing."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicate.digests import subscribers as subs
from syndicate.digests.proofs import send_proof
from syndicate.digests.states import SubscriberStatus, SubscriptionStatus
from syndicate.errors import InvalidDigestInput, InvalidEmail, NotFound
from syndicate.mail.transport import SendResult
from syndicate.settings import load_settings
from tests.unit.fakes.digests import FakeDigestDb, FakeDigestUnitOfWork, FakeEditionStore
from tests.unit.fakes.mail import FakeTransport, fake_mailer

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def test_add_one_and_edit() -> None:
    db = FakeDigestDb()
    world, staff = db.add_list("world"), db.add_list("staff", visibility="private")
    uow = FakeDigestUnitOfWork(db)
    ann, owes = subs.add_one(uow, email="ann@Example.ORG", name=" Ann ", language="RU", list_ids=[world.id],
                             confirmed=False, now=NOW)
    assert owes and (ann.email, ann.name, ann.language, ann.status) == (
        "ann@example.org", "Ann", "ru", SubscriberStatus.PENDING)
    with pytest.raises(InvalidDigestInput, match="'xx yy' is not a language tag"):
        subs.add_one(uow, email="b@example.org", name="", language="xx yy", list_ids=[], confirmed=True,
                     now=NOW)
    with pytest.raises(InvalidEmail):
        subs.add_one(uow, email="nobody", name="", language="en", list_ids=[], confirmed=True, now=NOW)
    with pytest.raises(NotFound, match="list 999"):
        subs.add_one(uow, email="c@example.org", name="", language="en", list_ids=[999], confirmed=True,
                     now=NOW)
    assert {s.email for s in db.subscribers.values()} == {"ann@example.org"}  # nothing half-written
    # A suppressed address is owed nothing, whatever the admin ticks.
    db.add_reader("gone@example.org", status=SubscriberStatus.COMPLAINED)
    _, owes = subs.add_one(uow, email="gone@example.org", name="", language="en", list_ids=[world.id],
                           confirmed=False, now=NOW)
    assert not owes
    assert subs.awaiting_confirmation(uow, "world")[1] == [ann.id]

    edited = subs.edit_subscriber(uow, ann.id, name="Ann  Lee", language="en-gb", list_ids=[staff.id],
                                  now=NOW)
    assert (edited.name, edited.language) == ("Ann Lee", "en-GB")
    assert {lst: s.status for (_, lst), s in db.subscriptions.items() if _ == ann.id} == {
        world.id: SubscriptionStatus.UNSUBSCRIBED, staff.id: SubscriptionStatus.PENDING}
    with pytest.raises(NotFound, match="subscriber 4242"):
        subs.edit_subscriber(uow, 4242, name="", language="en", list_ids=[], now=NOW)


def test_a_proof_goes_to_one_address_and_stores_nothing(tmp_path: Path) -> None:
    db = FakeDigestDb()
    lst = db.add_list("world", name="World")
    db.add_reader("reader@example.org", lst)
    editions = FakeEditionStore(db)
    settings = load_settings(var_dir=tmp_path, secret_key="proof-secret-0123456789", admin_token="t" * 24,
                             base_url="https://news.example.com")
    transport = FakeTransport()
    args = {"editions": editions, "uow": FakeDigestUnitOfWork(db), "mailer": fake_mailer(transport),
            "settings": settings, "now": NOW, "list_slug": "world"}
    assert send_proof(**args, email="me@example.org", language="en") is None  # nothing to send yet
    db.add_article("Story one", NOW - timedelta(hours=2))
    db.add_article("Story two", NOW - timedelta(hours=1))
    done = send_proof(**args, email="Me@Example.ORG", language="ru")
    assert done is not None and done.accepted and done.articles == 2
    assert done.subject.startswith("[Test] ") and done.email == "Me@example.org"
    ((_, rcpt, data),) = transport.sent
    assert rcpt == "Me@example.org" and b"ZQX" not in data
    message = email.message_from_bytes(data, policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Story one" in text and "https://news.example.com/subscribe" in text
    assert "/unsubscribe/" not in text  # the links of a proof change nobody's subscriptions
    assert db.editions == {} and db.deliveries == {}
    refused = FakeTransport({"x@example.org": SendResult(550, "5.1.1 no such user")})
    bounced = send_proof(**(args | {"mailer": fake_mailer(refused)}), email="x@example.org", language="en")
    assert bounced is not None and not bounced.accepted and bounced.reply == "550 5.1.1 no such user"
    with pytest.raises(NotFound, match="list 'nope'"):
        send_proof(**(args | {"list_slug": "nope"}), email="me@example.org", language="en")
