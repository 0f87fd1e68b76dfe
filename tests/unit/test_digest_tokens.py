"""Addresses, signed tokens and rate counters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syndicate.digests.addresses import normalize_email
from syndicate.digests.ratelimit import LocalCounter, SendPace
from syndicate.digests.tokens import CONFIRM, MANAGE, Signer
from syndicate.errors import InvalidEmail, InvalidToken

NOW = datetime(2026, 11, 27, tzinfo=UTC)


@pytest.mark.parametrize(("raw", "clean"), [
    ("  Ann.Lee+news@Example.COM ", "Ann.Lee+news@example.com"),
    ("ivan@пример.рф", "ivan@xn--e1afmkfd.xn--p1ai"),
])
def test_addresses_are_normalized(raw: str, clean: str) -> None:
    assert normalize_email(raw) == clean


@pytest.mark.parametrize("raw", ["", "no-at", "a@b", "a@@b.com", "a b@c.com", "a@-x.com", "a@x..com",
                                 "a@1.2.3.4", "a@example.com\r\nBcc: x@y.z", "иван@example.com"])
def test_bad_addresses_are_named(raw: str) -> None:
    with pytest.raises(InvalidEmail, match="email"):
        normalize_email(raw)


def test_tokens_round_trip_and_refuse_tampering_and_age() -> None:
    signer = Signer("k" * 32)
    token = signer.make(CONFIRM, 42, (1, 2), NOW)
    data = signer.read(token, CONFIRM, now=NOW + timedelta(hours=1), max_age=timedelta(days=1))
    assert (data.subscriber_id, data.list_ids) == (42, (1, 2))
    with pytest.raises(InvalidToken, match="expired"):
        signer.read(token, CONFIRM, now=NOW + timedelta(days=2), max_age=timedelta(days=1))
    with pytest.raises(InvalidToken, match="signature"):
        signer.read(token, MANAGE, now=NOW, max_age=None)  # a confirm token is not a manage token
    with pytest.raises(InvalidToken, match="signature"):
        Signer("other" * 8).read(token, CONFIRM, now=NOW, max_age=None)
    with pytest.raises(InvalidToken, match="malformed"):
        signer.read("garbage", CONFIRM, now=NOW, max_age=None)


def test_local_counter_counts_per_window() -> None:
    clock = [1000.0]
    counter = LocalCounter(clock=lambda: clock[0])
    assert [counter.hit("a", 60) for _ in range(3)] == [1, 2, 3]
    assert counter.hit("b", 60) == 1
    clock[0] += 60
    assert counter.hit("a", 60) == 1


def test_send_pace_sleeps_when_the_second_is_full() -> None:
    slept: list[float] = []
    pace = SendPace(LocalCounter(clock=lambda: 5.0), rate=3, sleep=slept.append)
    for _ in range(3):
        pace.wait()
    assert slept == []
    calls = 0

    def sleep(seconds: float) -> None:
        nonlocal calls
        calls += 1
        pace.counter = LocalCounter(clock=lambda: 6.0)  # the next second begins

    pace._sleep = sleep
    pace.wait()
    assert calls == 1
