"""DKIM: signed with the configured key, both unsubscribe headers covered, verifiable."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from syndicate.errors import ConfigError
from syndicate.mail.dkim import dkim_signer
from syndicate.mail.message import Recipient, build_template
from syndicate.settings import load_settings

dkim = pytest.importorskip("dkim")


def keypair(tmp_path: Path) -> tuple[Path, bytes]:
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout"], check=True,
                            capture_output=True).stdout.decode()
    der_b64 = "".join(line for line in public.splitlines() if "-----" not in line)
    return key, f"v=DKIM1; k=rsa; p={der_b64}".encode()


def test_signature_verifies_and_covers_one_click_headers(tmp_path: Path) -> None:
    key, record = keypair(tmp_path)
    settings = load_settings(var_dir=tmp_path, dkim_selector="mail", dkim_private_key_path=key,
                             mail_from="Newsroom <news@news.example.com>")
    signer = dkim_signer(settings)
    assert signer is not None
    data = build_template(mail_from=settings.mail_from, subject="Digest", list_id="World <w.example.com>",
                          text="Hello\n", html_body="<p>Hello</p>").for_recipient(Recipient(
        email="a@example.com", message_id="<1.1.1@news.example.com>", greeting="Hi",
        unsubscribe_url="https://news.example.com/unsubscribe/t", preferences_url="https://x/p"))
    signed = signer.sign(data)
    assert signed.startswith(b"DKIM-Signature:")
    header = signed.split(b"\r\n\r\n", 1)[0].decode()
    tags = re.sub(r"\s+", "", header.split("DKIM-Signature:", 1)[1].split("\r\nFrom:", 1)[0])
    assert "d=news.example.com" in tags and "s=mail" in tags
    assert "list-unsubscribe:list-unsubscribe-post" in tags.lower()

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"mail._domainkey.news.example.com."
        return record

    assert dkim.verify(signed, dnsfunc=dns)
    tampered = signed.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                              b"List-Unsubscribe-Post: nothing")
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_half_configured_dkim_is_refused(tmp_path: Path) -> None:
    assert dkim_signer(load_settings(var_dir=tmp_path)) is None
    with pytest.raises(ConfigError, match="DKIM_SELECTOR and DKIM_PRIVATE_KEY_PATH"):
        dkim_signer(load_settings(var_dir=tmp_path, dkim_selector="mail"))
