"""Secrets and signatures: what a partner verifies with the `standardwebhooks` package."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from syndicate.partners.secrets import new_secret, new_webhook_id, rotate, signing_secrets
from syndicate.partners.signing import signed_headers

BODY = '{"type":"article.published","timestamp":"2026-01-01T00:00:00+00:00","data":{"title":"Ünïcode"}}'


def test_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret
    assert new_webhook_id().startswith("msg_") and new_webhook_id() != new_webhook_id()


def test_signed_headers_verify_with_standardwebhooks() -> None:
    secret = new_secret()
    headers = signed_headers("msg_1", datetime.now(UTC), BODY, [secret])
    assert Webhook(secret).verify(BODY.encode(), headers)["data"]["title"] == "Ünïcode"
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY.encode(), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("Ünïcode", "forged").encode(), headers)


def test_rotation_signs_with_both_until_the_overlap_ends() -> None:
    now = datetime.now(UTC)
    old = new_secret()
    rotation = rotate(old, now=now, overlap=timedelta(hours=24))
    during = signing_secrets(rotation.secret, old, rotation.previous_until, now=now)
    assert during == [rotation.secret, old]
    headers = signed_headers("msg_2", now, BODY, during)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(BODY, headers)
    Webhook(rotation.secret).verify(BODY, headers)
    after = signing_secrets(rotation.secret, old, rotation.previous_until, now=now + timedelta(hours=25))
    assert after == [rotation.secret]
