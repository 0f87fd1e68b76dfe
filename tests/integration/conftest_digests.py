"""Fixtures of digest tests (loaded with `pytest_plugins`): a real SMTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import free_port
from tests.integration.digest_helpers import SmtpSink, serving


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A running SmtpSink on a free loopback port."""
    with serving(SmtpSink(port=free_port())) as sink:
        yield sink
