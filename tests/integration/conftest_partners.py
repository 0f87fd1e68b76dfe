"""Fixtures of partner tests (loaded with `pytest_plugins`): a receiver and a container."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.partners_helpers import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running receiver; answers 204 until the test sets `receiver.reply`."""
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def partner_container(make_container: Callable[..., Any]) -> Any:
    """An embedded container allowing loopback partners, with a 10 s push timeout: a loopback
    receiver answers at once, but a loaded CI machine once took over 1 s for a first push."""
    return make_container(partner_allow_private=True, partner_timeout_s=10.0)
