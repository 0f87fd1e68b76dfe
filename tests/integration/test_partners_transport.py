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
        # Literal addresses pass; a name would be a DNS lookup.
        ipaddress.ip_address(host)
        return real(host, *args, **kwargs)

    # A name that cannot resolve: the request only works because nothing resolves it.
    url = f"http://partner.invalid:{receiver.port}/hook"
    target = CheckedTarget(url=url, host="partner.invalid", port=receiver.port, addresses=("127.0.0.1",))
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    client = PartnerClient(2.0)
    try:
        response = client.run(lambda: client.post(target, b"{}", {"content-type": "application/json"}))
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
            client.run(lambda: client.post(target, b"{}", {}))
    finally:
        client.close()
    assert receiver.requests == []


def test_a_forked_child_gets_its_own_loop_and_connections(receiver: Receiver) -> None:
    import os

    client = PartnerClient(2.0, allow_private=True)
    try:
        assert client.run(lambda: client.push(receiver.url(), b"{}", {})).status_code == 204  # type: ignore[union-attr]
        pid = os.fork()
        if pid == 0:  # the child: a push must work on a loop and a pool of its own
            ok = False
            try:
                reply = client.run(lambda: client.push(receiver.url("/child"), b"{}", {}))
                ok = getattr(reply, "status_code", None) == 204
            finally:
                os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # The parent's pooled connection still works after the child used and dropped its own.
        assert client.run(lambda: client.push(receiver.url(), b"{}", {})).status_code == 204  # type: ignore[union-attr]
    finally:
        client.close()
    assert [r.path for r in receiver.requests] == ["/hook", "/child", "/hook"]
