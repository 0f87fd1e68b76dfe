"""The admin API of partners: create, list, show, edit, rotate, delivery log, replay, alerts."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from syndicate.web.app import create_app
from tests.integration.partners_helpers import Receiver, Reply, article, publish

pytest_plugins = ["tests.integration.conftest_partners"]
AUTH = {"Authorization": "Bearer test-admin-token-0123456789"}


@pytest.fixture
def client(partner_container: Any) -> TestClient:
    return TestClient(create_app(partner_container))


def test_admin_token_is_required(client: TestClient) -> None:
    assert client.get("/api/partners").status_code == 401
    assert client.post("/api/partners", json={"name": "x", "url": "http://x/"}).status_code == 401


def test_partner_admin_flow(client: TestClient, partner_container: Any, receiver: Receiver) -> None:
    created = client.post("/api/partners", headers=AUTH,
                          json={"name": "Agency", "url": receiver.url(), "categories": ["world"]})
    assert created.status_code == 201
    partner = created.json()
    pid, secret = partner["id"], partner["secret"]
    assert secret.startswith("whsec_") and partner["active"] is True

    assert [p["id"] for p in client.get("/api/partners", headers=AUTH).json()] == [pid]
    shown = client.get(f"/api/partners/{pid}", headers=AUTH).json()
    assert "secret" not in shown and shown["deliveries"] == {"pending": 0, "delivered": 0, "dead": 0}

    edited = client.patch(f"/api/partners/{pid}", headers=AUTH, json={"categories": [], "name": "A2"})
    assert edited.json()["name"] == "A2" and edited.json()["categories"] == []

    rotated = client.post(f"/api/partners/{pid}/rotate-secret", headers=AUTH).json()
    assert rotated["secret"] != secret and rotated["previous_secret_until"]

    receiver.reply = lambda _r: Reply(500)
    [delivery_id] = publish(partner_container, article(1))
    partner_container.partner_pushes.deliver_due()
    [entry] = client.get(f"/api/partners/{pid}/deliveries", headers=AUTH).json()
    assert entry["id"] == delivery_id and entry["status"] == "pending" and entry["attempts"] == 1
    assert entry["log"][0]["status_code"] == 500 and entry["webhook_id"].startswith("msg_")

    receiver.reply = lambda _r: Reply(200)
    replayed = client.post(f"/api/partners/{pid}/replay", headers=AUTH,
                           json={"article_id": entry["article_id"]})
    assert replayed.json()["queued"] == [delivery_id]
    partner_container.partner_pushes.deliver_due()
    last = receiver.requests[-1]
    assert last.headers["webhook-id"] == entry["webhook_id"]
    Webhook(rotated["secret"]).verify(last.body, last.headers)
    [entry] = client.get(f"/api/partners/{pid}/deliveries?status=delivered", headers=AUTH).json()
    assert [a["status_code"] for a in entry["log"]] == [500, 200]

    receiver.reply = lambda _r: Reply(410)
    [gone] = publish(partner_container, article(2))
    partner_container.partner_pushes.attempt(gone)
    [alert] = client.get("/api/partners/alerts", headers=AUTH).json()
    assert alert["id"] == pid and "410" in alert["disabled_reason"]
    enabled = client.patch(f"/api/partners/{pid}", headers=AUTH, json={"active": True}).json()
    assert enabled["active"] is True and client.get("/api/partners/alerts", headers=AUTH).json() == []


def test_errors_name_the_field(client: TestClient) -> None:
    refused = client.post("/api/partners", headers=AUTH,
                          json={"name": "x", "url": "http://169.254.169.254/"})
    assert refused.status_code == 422 and refused.json()["detail"]["field"] == "url"
    missing = client.post("/api/partners", headers=AUTH, json={"url": "http://127.0.0.1:9/"})
    assert missing.status_code == 422 and missing.json()["detail"]["field"] == "name"
    assert client.get("/api/partners/999", headers=AUTH).status_code == 404
    both = client.post("/api/partners/999/replay", headers=AUTH, json={"article_id": 1, "failed": True})
    assert both.status_code == 422 and both.json()["detail"]["field"] == "resend"
    bad_status = client.get("/api/partners/999/deliveries?status=nope", headers=AUTH)
    assert bad_status.status_code == 422 and bad_status.json()["detail"]["field"] == "status"
