"""Embargoed pushes: a partner that opted in gets a scheduled article ahead of its release as
`article.embargoed` with `embargo_until`, then `article.published` at release; others only the latter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from syndicate.partners.ports import PartnerInput
from syndicate.services import messagebus
from syndicate.storage.partner_models import PartnerDeliveryRow
from syndicate.web.app import create_app
from tests.conftest import run_cli
from tests.integration.partners_helpers import Receiver, Reply

pytest_plugins = ["tests.integration.conftest_partners"]


def handle(container: Any, article_id: int, event_type: str) -> None:
    """Run the handlers of the article's newest event of this type, as a worker would."""
    [event] = [e for e in container.event_log.of_article(article_id) if e.event_type == event_type][-1:]
    messagebus.handle_event(event.id, uow=container.uow, now=container.now, handlers=container.handlers)


def scheduled(container: Any, hours: float = 2) -> tuple[Any, datetime]:
    release = (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)
    made = container.articles.ingest({"guid": "urn:t:statement", "title": "Statement",
                                      "body_text": "Embargoed text.", "published_at": release.isoformat()})
    return made.article, release


def received(receiver: Receiver, path: str, secret: str) -> list[dict[str, Any]]:
    return [Webhook(secret).verify(r.body, r.headers) for r in receiver.requests if r.path == path]


def test_an_embargo_partner_gets_the_article_ahead_then_the_release(
    partner_container: Any, receiver: Receiver
) -> None:
    c = partner_container
    _early, early_secret = c.partner_registry.add(
        PartnerInput(name="wire", url=receiver.url("/wire"), embargoed=True))
    _late, late_secret = c.partner_registry.add(PartnerInput(name="site", url=receiver.url("/site")))
    article, release = scheduled(c)

    handle(c, article.id, "article.embargoed")
    c.partner_pushes.deliver_due()
    [notice] = received(receiver, "/wire", early_secret)
    assert notice["type"] == "article.embargoed"
    assert notice["data"]["embargo_until"] == release.isoformat()
    assert notice["data"]["guid"] == "urn:t:statement" and notice["data"]["title"] == "Statement"
    assert received(receiver, "/site", late_secret) == []

    handle(c, article.id, "article.published")  # what the relay does at the release time
    c.partner_pushes.deliver_due()
    assert [b["type"] for b in received(receiver, "/wire", early_secret)] == [
        "article.embargoed", "article.published"]
    [published] = received(receiver, "/site", late_secret)
    assert published["type"] == "article.published" and "embargo_until" not in published["data"]


def test_a_cancelled_embargo_is_withdrawn_from_the_partners_that_had_it(
    partner_container: Any, receiver: Receiver
) -> None:
    c = partner_container
    _p, secret = c.partner_registry.add(PartnerInput(name="wire", url=receiver.url("/wire"), embargoed=True))
    c.partner_registry.add(PartnerInput(name="site", url=receiver.url("/site")))
    article, _release = scheduled(c)
    handle(c, article.id, "article.embargoed")
    c.partner_pushes.deliver_due()
    c.articles.unpublish(article.id)
    handle(c, article.id, "article.deleted")
    c.partner_pushes.deliver_due()
    assert [b["type"] for b in received(receiver, "/wire", secret)] == [
        "article.embargoed", "article.deleted"]
    assert [r.path for r in receiver.requests] == ["/wire", "/wire"]


def test_the_release_supersedes_a_notice_the_partner_has_not_received(
    partner_container: Any, receiver: Receiver
) -> None:
    c = partner_container
    _p, secret = c.partner_registry.add(PartnerInput(name="wire", url=receiver.url("/wire"), embargoed=True))
    receiver.reply = lambda _r: Reply(503)
    article, _release = scheduled(c)
    handle(c, article.id, "article.embargoed")
    c.partner_pushes.deliver_due()  # refused: retried later
    receiver.reply = lambda _r: Reply(204)
    handle(c, article.id, "article.published")
    c.partner_pushes.deliver_due(now=c.now() + timedelta(minutes=10))
    with c.session_factory() as s:
        states = {r.event_type: (r.status, r.last_error) for r in s.query(PartnerDeliveryRow)}
    assert states["article.embargoed"] == ("dead", "superseded by the release")
    assert states["article.published"][0] == "delivered"
    # The refused notice is never sent again: only the release follows it.
    assert [b["type"] for b in received(receiver, "/wire", secret)] == [
        "article.embargoed", "article.published"]


def test_moving_the_release_tells_embargo_partners_the_new_time(
    partner_container: Any, receiver: Receiver
) -> None:
    c = partner_container
    _p, secret = c.partner_registry.add(PartnerInput(name="wire", url=receiver.url("/wire"), embargoed=True))
    article, _release = scheduled(c)
    handle(c, article.id, "article.embargoed")
    later = (datetime.now(UTC) + timedelta(hours=5)).replace(microsecond=0)
    c.articles.reschedule(article.id, later.isoformat())
    handle(c, article.id, "article.embargoed")
    c.partner_pushes.deliver_due()
    notices = received(receiver, "/wire", secret)
    assert [n["type"] for n in notices] == ["article.embargoed", "article.embargoed"]
    assert notices[-1]["data"]["embargo_until"] == later.isoformat()


def test_opting_in_through_the_cli_and_the_api(embedded_env: dict[str, str], partner_container: Any) -> None:
    env = embedded_env | {"PARTNER_ALLOW_PRIVATE": "true"}
    added = run_cli(["partners", "add", "Wire", "http://127.0.0.1:9/hook", "--embargoed"], env)
    assert added.returncode == 0, added.stderr
    [line] = run_cli(["partners", "list", "--json"], env).stdout.splitlines()
    assert json.loads(line)["embargoed"] is True

    client = TestClient(create_app(partner_container))
    token = {"Authorization": f"Bearer {partner_container.settings.admin_token}"}
    made = client.post("/api/partners", json={"name": "Site", "url": "http://127.0.0.1:9/site"},
                       headers=token)
    assert made.status_code == 201, made.text
    partner_id = made.json()["id"]
    assert made.json()["embargoed"] is False
    edited = client.patch(f"/api/partners/{partner_id}", json={"embargoed": True}, headers=token)
    assert edited.status_code == 200, edited.text
    assert partner_container.partner_reads.partner(partner_id).partner.embargoed is True
