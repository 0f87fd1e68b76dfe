"""The SSRF guard on literal addresses: every internal range is refused, public ones pass."""

from __future__ import annotations

import ipaddress

import pytest

from syndicate.errors import PartnerUrlRefused
from syndicate.partners.guard import check_url, refusal

REFUSED = [
    "127.0.0.1", "127.255.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.0.1",
    "169.254.169.254", "169.254.1.1", "fe80::1", "100.64.0.1", "100.127.255.254",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::7f00:1",
    "64:ff9b::808:808", "2002:7f00:1::", "2002:808:808::1", "fc00::1", "fd00:ec2::254",
    "224.0.0.1", "ff02::1", "0.0.0.0", "::", "240.0.0.1", "255.255.255.255", "198.18.0.1",
    "192.0.0.1", "2001:db8::1", "100.100.100.200",
]
ALLOWED = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001::1"]


@pytest.mark.parametrize("address", REFUSED)
def test_internal_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), allow_private=False)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), allow_private=False) is None


@pytest.mark.parametrize("address", ["169.254.169.254", "::ffff:169.254.169.254", "0.0.0.0", "224.0.0.1"])
def test_metadata_unspecified_multicast_refused_even_when_private_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), allow_private=True)


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.0.0.1", "192.168.1.10"])
def test_private_allowed_by_the_setting(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), allow_private=True) is None


def test_check_url_pins_the_literal_address_and_default_port() -> None:
    target = check_url("https://8.8.8.8/hook", allow_private=False)
    assert target.addresses == ("8.8.8.8",) and target.port == 443 and target.host == "8.8.8.8"


def test_localhost_name_resolves_and_is_refused() -> None:
    with pytest.raises(PartnerUrlRefused, match="host 'localhost' resolves to a refused address"):
        check_url("http://localhost:8000/hook", allow_private=False)
    assert check_url("http://localhost:8000/hook", allow_private=True).addresses


@pytest.mark.parametrize("url", ["ftp://8.8.8.8/", "javascript:alert(1)", "http:///nohost", "not a url"])
def test_malformed_or_foreign_urls_are_refused(url: str) -> None:
    with pytest.raises(PartnerUrlRefused):
        check_url(url, allow_private=True)
