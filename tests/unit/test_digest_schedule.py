"""When daily and weekly editions are due, in the configured time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syndicate.digests.service import due_keys
from syndicate.errors import ConfigError


def test_daily_is_due_from_the_local_hour_on() -> None:
    # 05:30 UTC is 08:30 in Moscow (UTC+3): due at 8 there, not yet at 8 in UTC.
    now = datetime(2026, 11, 25, 5, 30, tzinfo=UTC)  # a Wednesday
    assert due_keys(now, hour=8, weekday=0, timezone="Europe/Moscow") == {"daily": "daily:2026-11-25"}
    assert due_keys(now, hour=8, weekday=0, timezone="UTC") == {}


def test_local_date_names_the_edition_across_midnight_utc() -> None:
    now = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)  # Monday 01:00 in Moscow
    keys = due_keys(now, hour=0, weekday=0, timezone="Europe/Moscow")
    assert keys == {"daily": "daily:2026-11-30", "weekly": "weekly:2026-W49"}


def test_hour_24_never_builds_and_bad_zones_are_named() -> None:
    assert due_keys(datetime(2026, 11, 30, 23, 59, tzinfo=UTC), hour=24, weekday=0, timezone="UTC") == {}
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        due_keys(datetime(2026, 11, 30, tzinfo=UTC), hour=7, weekday=0, timezone="Mars/Olympus")
