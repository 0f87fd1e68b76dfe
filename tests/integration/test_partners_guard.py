"""With PARTNER_ALLOW_PRIVATE off, internal addresses are refused at registration and at send time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from syndicate.errors import PartnerUrlRefused
from syndicate.partners.ports import PartnerInput
from syndicate.storage.partner_models import PartnerDeliveryRow
from tests.conftest import run_cli
from tests.integration.partners_helpers import Receiver, article, publish

pytest_plugins = ["tests.integration.conftest_partners"]

INTERNAL_URLS = [
    "http://127.0.0.1:9/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://10.0.0.7/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:169.254.169.254]/hook",
    "http://[64:ff9b::a9fe:a9fe]/hook",
    "http://[2002:a9fe:a9fe::1]/hook",
    "http://[fe80::1]/hook",
    "http://0.0.0.0/hook",
    "http://2130706433/hook",
]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_registration_refuses_internal_addresses(make_container: Any, url: str) -> None:
    container = make_container()
    with pytest.raises(PartnerUrlRefused) as info:
        container.partner_registry.add(PartnerInput(name="evil", url=url))
    assert url in str(info.value) and "refused" in str(info.value)
    assert container.partner_reads.partners() == []


@pytest.mark.parametrize("url", ["ftp://example.org/x", "file:///etc/passwd", "gopher://x/"])
def test_registration_refuses_other_schemes(make_container: Any, url: str) -> None:
    with pytest.raises(PartnerUrlRefused, match="is not http or https"):
        make_container().partner_registry.add(PartnerInput(name="x", url=url))


def test_metadata_address_is_refused_even_when_private_is_allowed(make_container: Any) -> None:
    container = make_container(partner_allow_private=True)
    with pytest.raises(PartnerUrlRefused, match="metadata"):
        container.partner_registry.add(PartnerInput(name="x", url="http://169.254.169.254/"))


def test_send_time_check_refuses_and_sends_nothing(
    make_container: Any, var_dir: Path, receiver: Receiver
) -> None:
    # Registered while loopback was allowed; the operator then turns the setting off.
    allowed = make_container(partner_allow_private=True)
    allowed.partner_registry.add(PartnerInput(name="lan", url=receiver.url()))
    strict = make_container()
    [delivery_id] = publish(strict, article())
    assert strict.partner_pushes.attempt(delivery_id) == "failed"
    assert receiver.requests == []
    with strict.session_factory() as s:
        row = s.get(PartnerDeliveryRow, delivery_id)
        assert row is not None
        assert row.status == "pending" and row.last_error and "127.0.0.1" in row.last_error
        assert "refused" in row.last_error


def test_cli_add_refuses_localhost_with_one_line_and_exit_2(embedded_env: dict[str, str]) -> None:
    done = run_cli(["partners", "add", "evil", "http://localhost:8080/hook"], embedded_env)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: partner url 'http://localhost:8080/hook' refused")
    assert len(done.stderr.strip().splitlines()) == 1
    assert run_cli(["partners", "list"], embedded_env).stdout == ""
