"""Sessions end at sign-out, admin pages send framing and referrer headers, and X-Forwarded-For
is believed only from the proxies named in FORWARDED_ALLOW_IPS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from syndicate.settings import load_settings
from syndicate.web.app import create_app
from syndicate.web.security import client_address, safe_csv_cell
from tests.integration.digest_helpers import make_list
from tests.integration.test_admin_security import sign_in

TOKEN = "test-admin-token-0123456789"


def test_sign_out_revokes_the_cookie_server_side(container: Any) -> None:
    client = TestClient(create_app(container), follow_redirects=False)
    assert sign_in(client).status_code == 303
    cookie = client.cookies.get("syndicate_admin")
    assert cookie
    page = client.get("/admin", headers={"Accept": "text/html"})
    assert page.status_code == 200
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post("/admin/logout", data={"csrf_token": csrf}).status_code == 303

    replay = TestClient(create_app(container), follow_redirects=False)
    replay.cookies.set("syndicate_admin", cookie)
    again = replay.get("/admin", headers={"Accept": "text/html"})
    assert again.status_code == 303 and again.headers["location"].startswith("/admin/login")
    assert replay.get("/admin/login").status_code == 200


def test_a_second_sign_in_is_not_ended_by_another_sign_out(container: Any) -> None:
    first, second = (TestClient(create_app(container), follow_redirects=False) for _ in range(2))
    sign_in(first)
    sign_in(second)
    page = first.get("/admin", headers={"Accept": "text/html"})
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    first.post("/admin/logout", data={"csrf_token": csrf})
    assert second.get("/admin", headers={"Accept": "text/html"}).status_code == 200


@pytest.mark.parametrize("path", ["/admin", "/admin/login", "/admin/articles"])
def test_admin_responses_forbid_framing(container: Any, path: str) -> None:
    client = TestClient(create_app(container), follow_redirects=False)
    response = client.get(path, headers={"Accept": "text/html"})
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"


def test_public_pages_keep_their_own_headers(container: Any) -> None:
    response = TestClient(create_app(container)).get("/healthz")
    assert "content-security-policy" not in response.headers


def request_from(peer: str, forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 1234), "headers": headers, "path": "/"})


@pytest.mark.parametrize(("allow", "peer", "forwarded", "expected"), [
    ("", "127.0.0.1", "203.0.113.9", "127.0.0.1"),  # default: the header is ignored
    ("127.0.0.1", "127.0.0.1", "203.0.113.9", "203.0.113.9"),
    ("127.0.0.1", "198.51.100.1", "203.0.113.9", "198.51.100.1"),  # not a named proxy
    ("10.0.0.0/8,127.0.0.1", "127.0.0.1", "6.6.6.6, 203.0.113.9, 10.1.2.3", "203.0.113.9"),
    ("*", "198.51.100.1", "203.0.113.9", "203.0.113.9"),
])
def test_client_address_trusts_only_named_proxies(allow: str, peer: str, forwarded: str,
                                                  expected: str) -> None:
    settings = load_settings(forwarded_allow_ips=allow)
    assert client_address(request_from(peer, forwarded), settings) == expected


def test_bad_forwarded_allow_ips_is_a_config_error() -> None:
    from syndicate.errors import ConfigError

    with pytest.raises(ConfigError, match=r"FORWARDED_ALLOW_IPS: 'proxy\.local' is not an IP"):
        load_settings(forwarded_allow_ips="proxy.local")


def test_rotating_x_forwarded_for_from_loopback_does_not_bypass_the_client_limit(
    make_container: Callable[..., Any],
) -> None:
    c = make_container(subscribe_client_limit_per_hour=3)
    make_list(c)
    client = TestClient(create_app(c), client=("127.0.0.1", 40000))
    statuses = [client.post("/subscribe", json={"email": f"u{n}@example.test", "lists": ["world"]},
                            headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(5)]
    assert statuses == [202, 202, 202, 429, 429]


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+1", "'=1+1"), ("+x", "'+x"), ("-x", "'-x"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("a=b", "a=b"), ("", ""), (None, ""),
])
def test_safe_csv_cell(value: str | None, cell: str) -> None:
    assert safe_csv_cell(value) == cell
