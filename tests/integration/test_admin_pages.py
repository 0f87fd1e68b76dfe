"""Admin pages and API with real data: editions, subscribers, partners, everywhere an article went."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from syndicate.domain.events import ARTICLE_PUBLISHED, ArticleEvent
from syndicate.partners.ports import PartnerInput
from syndicate.services.messagebus import handle_event
from syndicate.storage.digest_models import DeliveryRow, SubscriberRow
from syndicate.web.app import create_app
from tests.integration.digest_helpers import add_active, make_list, publish_sample
from tests.integration.test_admin_security import sign_in

AUTH = {"Authorization": "Bearer test-admin-token-0123456789"}


@pytest.fixture
def seeded(make_container: Any) -> Any:
    """An article sent to a list of three (one failed), and pushed to a partner that is down."""
    container = make_container(partner_allow_private=True, smtp_url=None, partner_timeout_s=1)
    lst = make_list(container, slug="news", name="News")
    add_active(container, lst, ["ann@example.org", "boris@example.org", "chen@example.org"])
    partner, _secret = container.partner_registry.add(
        PartnerInput(name="Agency <b>", url="http://127.0.0.1:9/hook"))
    article = publish_sample(container)
    event = ArticleEvent(event_id=1, type=ARTICLE_PUBLISHED, article_id=article.id, guid=article.guid)
    container.partner_pushes.fan_out(event)
    edition_id = container.digests.send_now("news")
    assert edition_id is not None
    with container.session_factory() as session:
        boris = session.query(SubscriberRow).filter_by(email="boris@example.org").one()
        session.execute(update(DeliveryRow).where(DeliveryRow.subscriber_id == boris.id).values(
            state="failed", last_reply="451 4.2.2 mailbox full", attempts=5, updated_at=container.now()))
        session.execute(update(DeliveryRow).where(DeliveryRow.subscriber_id != boris.id).values(
            state="sent", last_reply="250 OK", updated_at=container.now()))
        session.commit()
    # Idempotent with the fan-out above; marks the event handled.
    handle_event(1, uow=container.uow, now=container.now, handlers=container.handlers)
    return container, article, edition_id, partner.id, boris.id


def test_pages_show_counts_replies_and_buttons(seeded: Any) -> None:
    container, article, edition_id, partner_id, boris_id = seeded
    client = TestClient(create_app(container), follow_redirects=False)
    sign_in(client)
    overview = client.get("/admin").text
    assert "1 email deliveries failed or bounced." in overview
    assert "Agency &lt;b&gt;" in overview and "Agency <b>" not in overview
    edition = client.get(f"/admin/editions/{edition_id}").text
    assert re.search(r'data-state="sent"><a href="\?state=sent" data-count="sent">2</a>', edition)
    assert "boris@example.org" in edition and "451 4.2.2 mailbox full" in edition
    assert "Resend failed (1)" in edition
    preview = client.get(f"/admin/editions/{edition_id}/preview?lang=ru")
    assert preview.headers["content-security-policy"].startswith("sandbox")
    assert "ZQX" not in preview.text and article.title in preview.text
    subscriber = client.get(f"/admin/subscribers/{boris_id}").text
    assert "451 4.2.2 mailbox full" in subscriber and "Suppress" in subscriber
    assert "boris@example.org" in client.get("/admin/subscribers?q=bor").text
    partner = client.get(f"/admin/partners/{partner_id}").text
    assert "Agency &lt;b&gt;" in partner and "article.published" in partner
    assert "Replay article" in partner


def test_admin_api_reports_where_an_article_went(seeded: Any) -> None:
    container, article, edition_id, _, boris_id = seeded
    client = TestClient(create_app(container))
    went = client.get(f"/api/articles/{article.id}/deliveries", headers=AUTH).json()
    assert "http://127.0.0.1:8000/feeds/atom.xml" in went["feeds"]
    assert [e["id"] for e in went["editions"]] == [edition_id]
    assert went["editions"][0]["counts"]["failed"] == 1
    assert [p["partner"] for p in went["partners"]] == ["Agency <b>"]
    failed = client.get("/api/deliveries?state=failed", headers=AUTH).json()
    assert [d["subscriber_id"] for d in failed] == [boris_id]
    assert client.get(f"/api/editions/{edition_id}", headers=AUTH).json()["counts"]["sent"] == 2
    exported = client.get("/api/subscribers/export?list=news", headers=AUTH)
    assert exported.text.splitlines()[0] == "email,name,language,status"
    assert len(exported.text.splitlines()) == 4
    imported = client.post("/api/subscribers/import?list=news&confirmed=true", headers=AUTH,
                           content=b"email\nnew@example.org\nnot-an-address\n").json()
    assert imported["imported"] == 1 and len(imported["errors"]) == 1
    assert "upload.csv: line 3" in imported["errors"][0]
    suppressed = client.post(f"/api/subscribers/{boris_id}/suppress", headers=AUTH,
                             json={"reason": "asked by phone"}).json()
    assert (suppressed["status"], suppressed["status_reason"]) == (
        "suppressed", "suppressed by admin API: asked by phone")
    # The export shows the reader's real status, not the subscription's "active".
    rows = client.get("/api/subscribers/export?list=news", headers=AUTH).text.splitlines()
    assert [r.split(",")[-1] for r in rows if r.startswith("boris@")] == ["suppressed"]
    unknown = client.get("/api/subscribers?status=gone", headers=AUTH)
    assert unknown.status_code == 422 and "'gone' is not one of pending, active" in unknown.text
    resent = client.post(f"/api/editions/{edition_id}/resend", headers=AUTH, json={"mode": "failed-only"})
    assert resent.json() == {"edition_id": edition_id, "queued": 1}
    bad = client.post(f"/api/editions/{edition_id}/resend", headers=AUTH, json={"mode": "everyone"})
    assert bad.status_code == 422
