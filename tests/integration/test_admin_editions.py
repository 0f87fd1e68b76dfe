"""An admin sends a test of the next edition to one address, then the edition itself (confirmed
first), and follows its progress; every POST needs the CSRF token."""

from __future__ import annotations

import email
import email.policy
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from syndicate.storage.digest_models import DeliveryRow
from syndicate.web.app import create_app
from tests.integration.digest_helpers import add_active, make_list, publish_sample
from tests.integration.test_admin_lists import csrf
from tests.integration.test_admin_security import sign_in


def outbox(container: Any) -> list[Any]:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted((container.settings.var_dir / "outbox").glob("*.eml"))]


def test_test_send_then_send_now_then_progress(container: Any) -> None:
    world = make_list(container, slug="world", name="World")
    client = TestClient(create_app(container), headers={"Accept": "text/html"})
    sign_in(client)
    token = csrf(client.get("/admin/editions").text)
    empty = client.post("/admin/editions/test", data={"list": "world", "email": "me@example.org",
                                                      "csrf_token": token})
    assert "No test sent: the next edition of &#39;world&#39; would be empty." in empty.text
    article = publish_sample(container)
    add_active(container, world, ["ann@example.org", "ivan@example.org"])

    sent = client.post("/admin/editions/test", data={"list": "world", "email": "Me@Example.org",
                                                     "language": "ru", "csrf_token": token})
    assert sent.status_code == 200 and "Test sent to Me@example.org" in sent.text
    (proof,) = outbox(container)
    assert proof["To"] == "Me@example.org" and proof["Subject"].strip().startswith("[Test] ")
    assert "ZQX" not in proof.as_string()
    assert article.title in proof.get_body(preferencelist=("plain",)).get_content()
    assert container.digest_reads.edition_count() == 0  # a test stores nothing
    bad = client.post("/admin/editions/test", data={"list": "world", "email": "nobody", "csrf_token": token})
    assert bad.status_code == 422 and "is not an address" in bad.text
    forged = client.post("/admin/editions/test", data={"list": "world", "email": "x@example.org"})
    assert forged.status_code == 403 and len(outbox(container)) == 1

    asked = client.post("/admin/editions/send", data={"list": "world", "csrf_token": token})
    assert "Send World now?" in asked.text and container.digest_reads.edition_count() == 0
    no_csrf = client.post("/admin/editions/send", data={"list": "world", "confirm": "yes"})
    assert no_csrf.status_code == 403 and container.digest_reads.edition_count() == 0
    started = client.post("/admin/editions/send", follow_redirects=False,
                          data={"list": "world", "confirm": "yes", "csrf_token": token})
    assert started.status_code == 303
    edition_id = int(started.headers["location"].rsplit("/", 1)[1])
    page = client.get(started.headers["location"]).text
    assert f'data-progress-url="/admin/editions/{edition_id}/progress" data-final="false"' in page
    assert '<script src="/static/admin.js" defer></script>' in page
    progress = client.get(f"/admin/editions/{edition_id}/progress").json()
    assert progress["total"] == 2 and progress["done"] == 0 and not progress["final"]
    assert progress["counts"]["queued"] == 2
    # The worker sends (here: the ledger says so); the next poll shows it.
    with container.session_factory() as session:
        session.execute(update(DeliveryRow).where(DeliveryRow.edition_id == edition_id).values(
            state="sent", sent_at=container.now()))
        session.commit()
    progress = client.get(f"/admin/editions/{edition_id}/progress").json()
    assert (progress["done"], progress["final"], progress["counts"]["sent"]) == (2, True, 2)
    again = client.post("/admin/editions/send", data={"list": "world", "confirm": "yes", "csrf_token": token})
    assert "Nothing to send to &#39;world&#39;" in again.text

