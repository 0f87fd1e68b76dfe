"""A partner down for several retry rounds gets every missed article once back, in order, once."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from syndicate.partners.ports import PartnerInput
from syndicate.storage.partner_models import PartnerDeliveryRow
from tests.integration.partners_helpers import Receiver, Reply, article, publish

pytest_plugins = ["tests.integration.conftest_partners"]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_container(request: pytest.FixtureRequest, make_container: Callable[..., Any]) -> Any:
    overrides: dict[str, Any] = {"partner_allow_private": True, "partner_timeout_s": 10.0}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_url")
    return make_container(**overrides)


def rows(container: Any) -> list[PartnerDeliveryRow]:
    with container.session_factory() as s:
        return list(s.scalars(select(PartnerDeliveryRow).order_by(PartnerDeliveryRow.id)))


def test_partner_back_after_several_rounds_gets_everything_in_order(
    db_container: Any, receiver: Receiver
) -> None:
    partner, secret = db_container.partner_registry.add(PartnerInput(name="agency", url=receiver.url()))
    receiver.reply = lambda _r: Reply(503)
    now = db_container.now()

    # While the partner is down: A published, B published, A updated twice, C published.
    publish(db_container, article(1, title="A v1"))
    publish(db_container, article(2, title="B v1"))
    publish(db_container, article(1, title="A v2"))
    publish(db_container, article(1, title="A v3"))
    publish(db_container, article(3, title="C v1"))
    now = db_container.now()
    for _round in range(4):
        db_container.partner_pushes.deliver_due(now=now)
        # Updates of A never overtake its pending publication: they are not even attempted.
        a_rows = [r for r in rows(db_container) if r.article_id == rows(db_container)[0].article_id]
        assert [r.attempts for r in a_rows[1:]] == [0, 0]
        now = max(r.next_attempt_at for r in rows(db_container) if r.next_attempt_at)
    failed_calls = len(receiver.requests)
    assert failed_calls == 3 * 4 and all(r.status == "pending" for r in rows(db_container))

    receiver.reply = lambda _r: Reply(200)
    for _round in range(4):
        db_container.partner_pushes.deliver_due(now=now)
    assert all(r.status == "delivered" for r in rows(db_container))

    delivered = [Webhook(secret).verify(r.body, r.headers) for r in receiver.requests[failed_calls:]]
    seen = [(d["data"]["guid"], d["data"]["title"], d["type"]) for d in delivered]
    assert sorted(seen) == sorted([
        ("g-1", "A v1", "article.published"), ("g-1", "A v2", "article.updated"),
        ("g-1", "A v3", "article.updated"), ("g-2", "B v1", "article.published"),
        ("g-3", "C v1", "article.published"),
    ])
    assert [s[1] for s in seen if s[0] == "g-1"] == ["A v1", "A v2", "A v3"]
    # Each delivery went out with its own stable webhook-id: nothing lost, nothing doubled.
    webhook_ids = [r.headers["webhook-id"] for r in receiver.requests[failed_calls:]]
    assert sorted(webhook_ids) == sorted(r.webhook_id for r in rows(db_container))
    assert db_container.partner_reads.partner(partner.id).deliveries["delivered"] == 5


def test_resend_article_reuses_webhook_ids_and_touches_only_that_article(
    db_container: Any, receiver: Receiver
) -> None:
    partner, _ = db_container.partner_registry.add(PartnerInput(name="agency", url=receiver.url()))
    publish(db_container, article(1))
    publish(db_container, article(1, title="Story 1, corrected"))
    publish(db_container, article(2))
    db_container.partner_pushes.deliver_due()
    assert len(receiver.requests) == 3
    first = rows(db_container)
    a_id = first[0].article_id

    queued = db_container.partner_registry.resend(partner.id, article_id=a_id).ids
    assert queued == [r.id for r in first if r.article_id == a_id]
    db_container.partner_pushes.deliver_due()
    again = receiver.requests[3:]
    assert [r.headers["webhook-id"] for r in again] == [r.webhook_id for r in first if r.article_id == a_id]
    assert [json.loads(r.body)["type"] for r in again] == ["article.published", "article.updated"]


def test_resend_of_an_article_the_partner_never_got_creates_one_delivery(
    db_container: Any, receiver: Receiver
) -> None:
    publish(db_container, article(1))
    partner, secret = db_container.partner_registry.add(PartnerInput(name="late", url=receiver.url()))
    with db_container.session_factory() as s:
        from syndicate.storage.models import ArticleRow

        article_id = s.scalar(select(ArticleRow.id))
    [delivery_id] = db_container.partner_registry.resend(partner.id, article_id=article_id).ids
    db_container.partner_pushes.deliver_due()
    [got] = receiver.requests
    assert Webhook(secret).verify(got.body, got.headers)["data"]["guid"] == "g-1"
    assert rows(db_container)[-1].id == delivery_id


def test_fan_out_is_idempotent(db_container: Any, receiver: Receiver) -> None:
    db_container.partner_registry.add(PartnerInput(name="agency", url=receiver.url()))
    from syndicate.domain.events import ArticleEvent

    result = db_container.articles.ingest(article(1))
    assert result.event_id is not None
    event = ArticleEvent(result.event_id, "article.published", result.article.id, result.article.guid)
    assert len(db_container.partner_pushes.fan_out(event)) == 1
    assert db_container.partner_pushes.fan_out(event) == []
    assert len(rows(db_container)) == 1
