"""An admin manages readers from the browser: add, edit, suppress and erase (each destructive step
confirmed first), CSV export and import with a per-row report; every POST needs the CSRF token."""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from syndicate.digests import subscribers as subs
from syndicate.storage.digest_models import DeliveryAttemptRow, DeliveryRow, SubscriberRow
from syndicate.web.app import create_app
from tests.integration.digest_helpers import add_active, make_list, publish_sample
from tests.integration.test_admin_lists import csrf
from tests.integration.test_admin_security import sign_in


def browser(container: Any) -> tuple[TestClient, str]:
    client = TestClient(create_app(container), headers={"Accept": "text/html"})
    assert sign_in(client).status_code == 200
    return client, csrf(client.get("/admin/subscribers").text)


def test_admin_adds_and_edits_a_reader(container: Any) -> None:
    world = make_list(container, slug="world", name="World")
    staff = make_list(container, slug="staff", name="Staff", visibility="private")
    client, token = browser(container)
    form = {"email": "Ann@Example.org", "name": "Ann", "language": "ru", "lists": [str(world.id)],
            "confirmed": "true", "csrf_token": token}
    page = client.post("/admin/subscribers", data=form)
    assert page.status_code == 200 and "Subscriber saved." in page.text
    ann = container.digest_reads.subscribers(q="ann", limit=5)[0]
    assert (ann.email, ann.name, ann.language, ann.status) == ("Ann@example.org", "Ann", "ru", "active")
    forged = client.post("/admin/subscribers", data=form | {"email": "eve@example.org", "csrf_token": "x"})
    assert forged.status_code == 403 and not container.digest_reads.subscribers(q="eve", limit=1)
    bad = client.post("/admin/subscribers", data=form | {"email": "not an address"})
    assert bad.status_code == 422 and "is not an address of the form name@domain" in bad.text
    assert 'value="not an address"' in bad.text  # the form comes back as typed
    # Edit: another name and language, moved from World to the private Staff list.
    edited = client.post(f"/admin/subscribers/{ann.id}", data={
        "name": "Ann Lee", "language": "en", "lists": [str(staff.id)], "csrf_token": token})
    assert edited.status_code == 200 and "Changes saved." in edited.text
    after = container.digest_reads.subscriber(ann.id)
    assert (after.name, after.language) == ("Ann Lee", "en")
    statuses = {lst.slug: sub.status for sub, lst in container.digest_reads.subscriptions(ann.id)}
    assert statuses == {"world": "unsubscribed", "staff": "active"}
    # A client that sends only some fields changes only those.
    client.post(f"/admin/subscribers/{ann.id}", data={"language": "ru", "lists": [str(staff.id)],
                                                      "csrf_token": token})
    client.post(f"/admin/subscribers/{ann.id}", data={"lists": [str(staff.id)], "csrf_token": token})
    kept = container.digest_reads.subscriber(ann.id)
    assert (kept.name, kept.language) == ("Ann Lee", "ru")
    refused = client.post(f"/admin/subscribers/{ann.id}", data={"name": "X", "lists": [str(world.id)]})
    assert refused.status_code == 403 and container.digest_reads.subscriber(ann.id).name == "Ann Lee"
    wrong_language = client.post(f"/admin/subscribers/{ann.id}",
                                 data={"name": "X", "language": "not a tag!", "csrf_token": token})
    assert wrong_language.status_code == 422 and "is not a language tag" in wrong_language.text


def test_an_unconfirmed_add_mails_a_confirmation_link(container: Any) -> None:
    world = make_list(container, slug="world", name="World")
    client, token = browser(container)
    client.post("/admin/subscribers", data={"email": "new@example.org", "lists": [str(world.id)],
                                            "csrf_token": token})
    assert container.digest_reads.subscribers(q="new@", limit=1)[0].status == "pending"
    mails = list((container.settings.var_dir / "outbox").glob("*.eml"))
    assert len(mails) == 1 and "/confirm/" in mails[0].read_text()


def test_suppress_asks_first_and_keeps_who_and_why(container: Any) -> None:
    world = make_list(container, slug="world")
    add_active(container, world, ["boris@example.org"])
    boris = container.digest_reads.subscribers(q="boris", limit=1)[0]
    client, token = browser(container)
    asked = client.post(f"/admin/subscribers/{boris.id}/suppress", data={"reason": "asked by phone",
                                                                         "csrf_token": token})
    assert asked.status_code == 200 and "Suppress boris@example.org?" in asked.text
    assert 'name="confirm" value="yes"' in asked.text and 'value="asked by phone"' in asked.text
    assert container.digest_reads.subscriber(boris.id).status == "active"  # nothing done yet
    no_csrf = client.post(f"/admin/subscribers/{boris.id}/suppress", data={"reason": "x", "confirm": "yes"})
    assert no_csrf.status_code == 403 and container.digest_reads.subscriber(boris.id).status == "active"
    done = client.post(f"/admin/subscribers/{boris.id}/suppress",
                       data={"reason": "asked by phone", "confirm": "yes", "csrf_token": token})
    assert done.status_code == 200 and "Suppressed: never mailed again." in done.text
    after = container.digest_reads.subscriber(boris.id)
    assert (after.status, after.status_reason) == ("suppressed", "suppressed by admin: asked by phone")


def test_erase_removes_the_person_and_keeps_the_ledger_row(container: Any) -> None:
    world = make_list(container, slug="world")
    add_active(container, world, ["olga@example.org", "petr@example.org"])
    publish_sample(container)
    edition_id = container.digests.send_now("world")
    assert edition_id is not None
    olga = container.digest_reads.subscribers(q="olga", limit=1)[0]
    with container.session_factory() as session:
        session.execute(update(DeliveryRow).where(DeliveryRow.subscriber_id == olga.id).values(
            state="bounced", last_reply="550 5.1.1 <olga@example.org>: no such user"))
        delivery_id = session.scalar(select(DeliveryRow.id).where(DeliveryRow.subscriber_id == olga.id))
        session.add(DeliveryAttemptRow(delivery_id=delivery_id, state="bounced", at=container.now(),
                                       reply="550 5.1.1 <olga@example.org>: no such user"))
        session.commit()
    counts_before = container.digest_reads.edition(edition_id).counts
    client, token = browser(container)
    asked = client.post(f"/admin/subscribers/{olga.id}/erase", data={"csrf_token": token})
    assert "Erase olga@example.org?" in asked.text and "cannot be undone" in asked.text
    assert container.digest_reads.subscriber(olga.id).email == "olga@example.org"
    forged = client.post(f"/admin/subscribers/{olga.id}/erase", data={"confirm": "yes"})
    assert forged.status_code == 403
    assert container.digest_reads.subscriber(olga.id).email == "olga@example.org"
    done = client.post(f"/admin/subscribers/{olga.id}/erase", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 200 and "Erased: the address and name are gone" in done.text
    assert "olga@example.org" not in done.text and f"erased-{olga.id}@erased.invalid" in done.text
    with container.session_factory() as session:
        row = session.get(SubscriberRow, olga.id)
        assert row is not None and (row.email, row.name, row.status) == (
            f"erased-{olga.id}@erased.invalid", "", "suppressed")
        replies = [*session.scalars(select(DeliveryRow.last_reply)),
                   *session.scalars(select(DeliveryAttemptRow.reply))]
    assert not any("olga" in (r or "") for r in replies)
    assert "550 5.1.1 <[erased]>: no such user" in replies
    assert container.digest_reads.edition(edition_id).counts == counts_before  # the ledger adds up
    assert "olga" not in client.get("/admin/subscribers").text
    refilled = client.post(f"/admin/subscribers/{olga.id}", data={"name": "Olga", "csrf_token": token})
    assert refilled.status_code == 409 and container.digest_reads.subscriber(olga.id).name == ""
    assert "olga" not in client.get(f"/admin/editions/{edition_id}?state=bounced").text


def test_export_and_import_with_a_per_row_report(container: Any) -> None:
    world = make_list(container, slug="world", name="World")
    add_active(container, world, ["=cmd@example.org", "ann@example.org"])
    client, token = browser(container)
    exported = client.get("/admin/subscribers/export?list=world")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.text.splitlines() == ["email,name,language,status", "'=cmd@example.org,,en,active",
                                          "ann@example.org,,en,active"]
    upload = b"email,name,language\nzoe@example.org,Zoe,ru\nnot-an-address,X,en\nann@example.org,Ann,en\n"
    started = client.post("/admin/subscribers/import",
                          data={"list": "world", "confirmed": "true", "csrf_token": token},
                          files={"file": ("people.csv", upload, "text/csv")}, follow_redirects=False)
    assert started.status_code == 303
    report_url = started.headers["location"]
    deadline = time.monotonic() + 30
    page = client.get(report_url).text
    while 'id="import-state">running' in page and time.monotonic() < deadline:
        time.sleep(0.1)
        page = client.get(report_url).text
    found = re.search(r'id="import-summary">(.*?)</p>', page, re.S)
    assert found is not None
    summary = re.sub(r"<[^>]+>", "", found.group(1))
    assert summary == "1 new, 1 already known, 1 bad row (of 3)."
    assert "upload.csv: line 3: email &#39;not-an-address&#39; is not an address" in page
    members = {s.email: s.status for s, _ in subs.members(container.digest_uow, "world")[1]}
    assert members["zoe@example.org"] == "active"
    forged = client.post("/admin/subscribers/import", data={"list": "world"},
                         files={"file": ("people.csv", b"email\nmallory@example.org\n", "text/csv")})
    assert forged.status_code == 403
    assert "mallory@example.org" not in {s.email for s, _ in subs.members(container.digest_uow, "world")[1]}


def test_an_unconfirmed_import_offers_to_mail_confirmation_links(container: Any) -> None:
    world = make_list(container, slug="world", name="World")
    add_active(container, world, ["known@example.org"])
    client, token = browser(container)
    started = client.post("/admin/subscribers/import", data={"list": "world", "csrf_token": token},
                          files={"file": ("people.csv", b"email\nzoe@example.org\nyan@example.org\n",
                                          "text/csv")}, follow_redirects=False)
    deadline = time.monotonic() + 30
    page = client.get(started.headers["location"]).text
    while 'id="import-state">running' in page and time.monotonic() < deadline:
        time.sleep(0.1)
        page = client.get(started.headers["location"]).text
    assert "2 readers of <code>world</code> are pending" in page
    outbox = container.settings.var_dir / "outbox"
    assert not list(outbox.glob("*.eml"))  # nothing mailed before the admin asks
    asked = client.post("/admin/subscribers/import/confirmations",
                        data={"list": "world", "csrf_token": token})
    assert "Mail 2 confirmation links?" in asked.text and not list(outbox.glob("*.eml"))
    forged = client.post("/admin/subscribers/import/confirmations", data={"list": "world", "confirm": "yes"})
    assert forged.status_code == 403 and not list(outbox.glob("*.eml"))
    done = client.post("/admin/subscribers/import/confirmations",
                       data={"list": "world", "confirm": "yes", "csrf_token": token})
    assert "Mailing 2 confirmation links to readers of World." in done.text
    mails = sorted(p.read_text() for p in outbox.glob("*.eml"))
    assert len(mails) == 2 and all("/confirm/" in m for m in mails)
    assert {"zoe@example.org", "yan@example.org"} == {
        a for m in mails for a in ("zoe@example.org", "yan@example.org") if f"To: {a}" in m}
