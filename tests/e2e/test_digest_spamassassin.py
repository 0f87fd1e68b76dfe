"""The rendered digest of the sample article passes Debian's SpamAssassin (offline rules)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import IN_CI
from tests.integration.digest_helpers import add_active, make_list, publish_sample

FORBIDDEN = ("MIME_HTML_ONLY", "MISSING_MID", "MISSING_DATE", "HTML_IMAGE_ONLY")


def spamassassin() -> str:
    binary = shutil.which("spamassassin")
    if binary is None:
        if IN_CI:
            pytest.fail("spamassassin is not installed (Debian package spamassassin)")
        pytest.skip("spamassassin is not installed")
    return binary


@pytest.mark.parametrize("language", ["en", "ru"])
def test_sample_digest_scores_below_2(make_container: Callable[..., Any], language: str) -> None:
    binary = spamassassin()
    c = make_container(base_url="https://news.example.com", mail_from="Newsroom <news@news.example.com>")
    add_active(c, make_list(c), ["reader@example.com"], language=language)
    publish_sample(c)
    edition_id = c.digests.send_now("world")
    assert edition_id is not None
    c.digests.send_batch(edition_id, 0, 2**62)
    (eml,) = (c.settings.var_dir / "outbox").glob("*.eml")
    message = b"".join(eml.read_bytes().split(b"\r\n", 2)[2:])  # drop the X-Envelope lines
    report = subprocess.run([binary, "-L", "-t"], input=message, capture_output=True, timeout=120,
                            check=True).stdout.decode("utf-8", "replace")
    status = re.search(r"^X-Spam-Status: .*?(?=^\S)", report, re.S | re.M)
    assert status is not None, report[:2000]
    text = " ".join(status.group().split())
    score = float(re.search(r"score=(-?[\d.]+)", text).group(1))  # type: ignore[union-attr]
    assert score < 2.0, text
    for rule in FORBIDDEN:
        assert rule not in text, text
