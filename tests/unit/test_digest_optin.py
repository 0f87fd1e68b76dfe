"""Double opt-in on fakes: subscribe requests with rate limits, confirmation mail, confirm, leave."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from syndicate.digests.optin import OptIn, PendingConfirmation
from syndicate.digests.ratelimit import LocalCounter
from syndicate.digests.states import SubscriberStatus, SubscriptionStatus
from syndicate.digests.tokens import MANAGE, Signer
from syndicate.errors import InvalidDigestInput, InvalidEmail, InvalidToken, RateLimited
from syndicate.mail.transport import SendResult
from syndicate.settings import Settings, load_settings
from tests.unit.fakes.digests import FakeDigestDb, FakeDigestUnitOfWork
from tests.unit.fakes.mail import FakePace, FakeTransport, fake_mailer

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
BASE = "https://news.example.com"


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


class Setup:
    def __init__(self, settings: Settings) -> None:
        self.db = FakeDigestDb()
        self.world = self.db.add_list("world", name="World news")
        self.sport = self.db.add_list("sport", name="Sport")
        self.transport = FakeTransport()
        self.pace = FakePace()
        self.clock = Clock()
        self.signer = Signer(settings.resolved_secret_key)
        self.optin = OptIn(FakeDigestUnitOfWork(self.db), fake_mailer(self.transport, pace=self.pace),
                           LocalCounter(clock=lambda: NOW.timestamp()), self.signer, settings, self.clock)

    def confirm_link(self, n: int = -1) -> str:
        message = message_from_bytes(self.transport.sent[n][2], policy=policy.default)
        body = message.get_body(("plain",))
        assert body is not None
        found = re.search(rf"{BASE}/confirm/(\S+)", body.get_content())
        assert found is not None
        return found.group(1)


@pytest.fixture
def s(tmp_path: Path) -> Setup:
    return Setup(load_settings(var_dir=tmp_path, secret_key="optin-secret-0123456789", admin_token="t" * 24,
                               base_url=BASE, subscribe_limit_per_hour=2, subscribe_client_limit_per_hour=3,
                               confirm_token_hours=72))


def test_a_request_leaves_the_address_pending_and_mails_a_confirmation_link(s: Setup) -> None:
    pending = s.optin.request_subscription(email=" New@Example.COM ", list_slugs=["world", "world", " "],
                                           language="ru", client="1.2.3.4")
    assert pending is not None and pending.list_ids == (s.world.id,)
    reader = s.db.by_email("New@example.com")
    assert reader.status == SubscriberStatus.PENDING and reader.language == "ru"
    assert s.db.subscriptions[(reader.id, s.world.id)].status == SubscriptionStatus.PENDING
    s.optin.send_confirmation(pending)
    (sender, rcpt, data) = s.transport.sent[0]
    message = message_from_bytes(data, policy=policy.default)
    assert (sender, rcpt, message["To"]) == ("news@news.example.com", "New@example.com", "New@example.com")
    assert message["Subject"] == "Подтвердите подписку"
    assert message["Message-ID"].endswith("@news.example.com>")
    assert s.pace.waits == 1  # confirmations count against the send rate like digests


def test_bad_input_is_named_and_nothing_is_stored(s: Setup) -> None:
    with pytest.raises(InvalidEmail, match="not-an-address"):
        s.optin.request_subscription(email="not-an-address", list_slugs=["world"], language="en", client="c")
    with pytest.raises(InvalidDigestInput, match="at least one list"):
        s.optin.request_subscription(email="a@example.org", list_slugs=[" "], language="en", client="c")
    with pytest.raises(InvalidDigestInput, match="no list named 'nope'"):
        s.optin.request_subscription(email="a@example.org", list_slugs=["world", "nope"], language="en",
                                     client="c")
    assert s.db.subscribers == {}


def test_repeats_are_limited_per_address_and_per_client(s: Setup) -> None:
    ask = s.optin.request_subscription
    ask(email="a@example.org", list_slugs=["world"], language="en", client="1.1.1.1")
    ask(email="a@example.org", list_slugs=["world"], language="en", client="2.2.2.2")
    with pytest.raises(RateLimited, match="this address"):
        ask(email="a@example.org", list_slugs=["world"], language="en", client="3.3.3.3")
    with pytest.raises(RateLimited, match=r"from 1\.1\.1\.1"):
        for n in range(3):
            ask(email=f"x{n}@example.org", list_slugs=["world"], language="en", client="1.1.1.1")


def test_a_suppressed_address_gets_no_mail_and_the_answer_does_not_tell(s: Setup) -> None:
    s.db.add_reader("gone@example.org", s.world, status=SubscriberStatus.BOUNCED)
    assert s.optin.request_subscription(email="gone@example.org", list_slugs=["world"], language="en",
                                        client="c") is None
    results: list[SendResult | None] = []
    s.optin.send_confirmations([PendingConfirmation(s.db.by_email("gone@example.org").id, (s.world.id,))],
                               on_each=lambda _p, _a, r: results.append(r))
    assert results == [None] and s.transport.sent == []


def test_the_link_confirms_once_and_expires(s: Setup) -> None:
    pending = s.optin.request_subscription(email="a@example.org", list_slugs=["world", "sport"],
                                           language="en", client="c")
    assert pending is not None
    s.optin.send_confirmation(pending)
    token = s.confirm_link()
    manage = s.optin.confirm(token)
    reader = s.db.by_email("a@example.org")
    assert reader.status == SubscriberStatus.ACTIVE and reader.confirmed_at == NOW
    assert {k[1]: v.status for k, v in s.db.subscriptions.items()} == {
        s.world.id: SubscriptionStatus.ACTIVE, s.sport.id: SubscriptionStatus.ACTIVE}
    assert s.signer.read(manage, MANAGE, now=NOW, max_age=None).subscriber_id == reader.id
    s.clock.at = NOW + timedelta(hours=73)
    with pytest.raises(InvalidToken, match="expired"):
        s.optin.confirm(token)


def test_unsubscribe_leaves_the_linked_list_and_then_the_address(s: Setup) -> None:
    reader = s.db.add_reader("r@example.org", s.world, s.sport)
    first = s.signer.make(MANAGE, reader.id, (s.world.id,), NOW)
    assert s.optin.unsubscribe(first) == ["World news"]
    assert s.db.by_email("r@example.org").status == SubscriberStatus.ACTIVE  # still on sport
    second = s.signer.make(MANAGE, reader.id, (s.sport.id,), NOW)
    assert s.optin.unsubscribe(second) == ["Sport"]
    assert s.db.by_email("r@example.org").status == SubscriberStatus.UNSUBSCRIBED
    with pytest.raises(InvalidToken):
        s.optin.unsubscribe(second[:-2] + "xx")


def test_preferences_change_language_lists_and_frequency(s: Setup) -> None:
    s.db.lists[s.world.id] = replace(s.world, custom_frequency=True)
    reader = s.db.add_reader("r@example.org", s.world)
    token = s.signer.make(MANAGE, reader.id, (s.world.id,), NOW)
    s.optin.save_preferences(token, language="ru", choices={s.world.id: "weekly", s.sport.id: "weekly"})
    shown = s.optin.preferences(token)
    assert shown.language == "ru"
    assert [(c.name, c.subscribed, c.chosen) for c in shown.lists] == [
        ("World news", True, "weekly"), ("Sport", True, "daily")]  # sport keeps its own frequency
    s.optin.save_preferences(token, language="ru", choices={})
    assert s.db.by_email("r@example.org").status == SubscriberStatus.UNSUBSCRIBED
    with pytest.raises(InvalidDigestInput, match="hourly"):
        s.optin.save_preferences(token, language="en", choices={s.world.id: "hourly"})
