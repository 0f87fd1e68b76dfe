"""The retry schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (±10 %), then dead."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from syndicate.partners.schedule import MAX_ATTEMPTS, next_attempt, retry_after

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_schedule_follows_standard_webhooks_with_jitter() -> None:
    rng = random.Random(7)
    expected = [5, 300, 1800, 7200, 18000, 36000, 36000]
    for attempts, seconds in enumerate(expected, start=1):
        at = next_attempt(attempts, NOW, rng=rng)
        assert at is not None
        assert seconds * 0.9 <= (at - NOW).total_seconds() <= seconds * 1.1


def test_after_eight_attempts_the_delivery_is_dead() -> None:
    assert MAX_ATTEMPTS == 8
    assert next_attempt(8, NOW) is None
    assert next_attempt(0, NOW) == NOW


def test_jitter_spreads_retries() -> None:
    rng = random.Random(1)
    assert len({next_attempt(3, NOW, rng=rng) for _ in range(20)}) > 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", NOW + timedelta(seconds=120)),
        (" 0 ", NOW),
        ("Thu, 01 Jan 2026 12:10:00 GMT", NOW + timedelta(minutes=10)),
        ("Wed, 31 Dec 2025 00:00:00 GMT", NOW),
        ("999999999", NOW + timedelta(hours=24)),
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
)
def test_retry_after_seconds_or_date_capped(header: str | None, expected: datetime | None) -> None:
    assert retry_after(header, NOW) == expected
