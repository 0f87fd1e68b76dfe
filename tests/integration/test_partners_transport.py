"""The pinned transport dials only the checked address, keeps the URL's Host, never re-resolves."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import httpx
import pytest

from syndicate.partners.guard import CheckedTarget
from syndicate.partners.transport import PartnerClient
from tests.integration.partners_helpers import Receiver

pytest_plugins = ["tests.integration.conftest_partners"]


def test_connects_to_the_pinned_address_with_the_urls_host_header(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def no_dns(host: str, *args: Any, **kwargs: Any) -> Any:
        # Literal addresses pass (create_connection parses them); a name would be a DNS lookup.
        ipaddress.ip_address(host)
        return real(host, *args, **kwargs)

    # A name that cannot resolve: the request only works because nothing resolves it.
    url = f"http://partner.invalid:{receiver.port}/hook"
    target = CheckedTarget(url=url, host="partner.invalid", port=receiver.port, addresses=("127.0.0.1",))
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    client = PartnerClient(2.0)
    try:
        response = client.post(target, b"{}", {"content-type": "application/json"})
    finally:
        client.close()
    assert response.status_code == 204
    [got] = receiver.requests
    assert got.headers["host"] == f"partner.invalid:{receiver.port}"


def test_a_host_that_was_not_checked_is_never_dialled(receiver: Receiver) -> None:
    target = CheckedTarget(url=receiver.url(), host="elsewhere.invalid", port=receiver.port,
                           addresses=("127.0.0.1",))
    client = PartnerClient(2.0)
    try:
        with pytest.raises(httpx.ConnectError, match="was not checked by the guard"):
            client.post(target, b"{}", {})
    finally:
        client.close()
    assert receiver.requests == []
