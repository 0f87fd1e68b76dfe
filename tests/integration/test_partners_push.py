"""Signed pushes reach a real receiver on loopback; outcomes 2xx/5xx/timeout/410/429/3xx behave."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpcore
import pytest
from standardwebhooks import Webhook

from syndicate.domain.articles import article_json
from syndicate.partners.ports import PartnerInput
from syndicate.partners.schedule import MAX_ATTEMPTS
from syndicate.storage.partner_models import PartnerDeliveryRow
from tests.integration.partners_helpers import Receiver, Reply, article, publish

pytest_plugins = ["tests.integration.conftest_partners"]


def add(container: Any, receiver: Receiver, path: str = "/hook", **fields: Any) -> tuple[int, str]:
    partner, secret = container.partner_registry.add(
        PartnerInput(name=f"partner {path}", url=receiver.url(path), **fields)
    )
    return partner.id, secret


def delivery(container: Any, delivery_id: int) -> PartnerDeliveryRow:
    with container.session_factory() as s:
        row = s.get(PartnerDeliveryRow, delivery_id)
        assert row is not None
        return row


def verified(secret: str, received: Any) -> Any:
    return Webhook(secret).verify(received.body, received.headers)


def test_push_is_signed_and_carries_the_contract_body(partner_container: Any, receiver: Receiver) -> None:
    _, secret = add(partner_container, receiver)
    [delivery_id] = publish(partner_container, article(1, categories=["world"]))
    assert partner_container.partner_pushes.attempt(delivery_id) == "delivered"

    [got] = receiver.requests
    body = verified(secret, got)
    with partner_container.session_factory() as s:
        from syndicate.storage.articles import ArticleQueries

        stored = ArticleQueries(s).by_id(delivery(partner_container, delivery_id).article_id)
    assert stored is not None
    assert body["type"] == "article.published"
    # The admin API's article JSON, plus the story's other languages (none here).
    assert body["data"] == {**article_json(stored, partner_container.settings.base_url), "translations": []}
    assert body["timestamp"]
    assert got.headers["webhook-id"] == delivery(partner_container, delivery_id).webhook_id
    assert got.headers["webhook-signature"].startswith("v1,")
    assert got.headers["content-type"] == "application/json"
    assert delivery(partner_container, delivery_id).status == "delivered"


def test_filters_pick_partners_by_category_and_language(partner_container: Any, receiver: Receiver) -> None:
    add(partner_container, receiver, "/sport", categories=[" Sport "])
    add(partner_container, receiver, "/french", language="fr")
    add(partner_container, receiver, "/all")
    publish(partner_container, article(1, categories=["sport"], language="en"))
    publish(partner_container, article(2, categories=["politics"], language="fr-CA"))
    partner_container.partner_pushes.deliver_due()
    got = sorted((r.path, json.loads(r.body)["data"]["guid"]) for r in receiver.requests)
    assert got == [("/all", "g-1"), ("/all", "g-2"), ("/french", "g-2"), ("/sport", "g-1")]


def test_500_is_retried_on_the_schedule_with_the_same_webhook_id_then_dead(
    partner_container: Any, receiver: Receiver
) -> None:
    _, secret = add(partner_container, receiver)
    receiver.reply = lambda _r: Reply(500)
    [delivery_id] = publish(partner_container, article())
    now = partner_container.now()
    gaps = []
    for _ in range(MAX_ATTEMPTS):
        assert partner_container.partner_pushes.deliver_due(now=now) == 1
        row = delivery(partner_container, delivery_id)
        if row.next_attempt_at is None:
            break
        gaps.append(row.next_attempt_at - now)
        now = row.next_attempt_at
    row = delivery(partner_container, delivery_id)
    assert row.status == "dead" and row.attempts == MAX_ATTEMPTS == 8
    assert row.last_status_code == 500
    # 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, each within the ±10 % jitter.
    expected = [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert [round(g.total_seconds() / e, 1) for g, e in zip(gaps, expected, strict=True)] == [
        pytest.approx(1.0, abs=0.11)
    ] * 7
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(receiver.requests) == 8 and ids == {row.webhook_id}
    for r in receiver.requests:
        verified(secret, r)

    # The receiver is fixed; `resend --failed` queues the dead row again with its webhook-id.
    receiver.reply = lambda _r: Reply(200)
    partner_id = row.partner_id
    assert partner_container.partner_registry.resend(partner_id, failed=True).ids == [delivery_id]
    assert partner_container.partner_pushes.deliver_due(now=now) == 1
    assert delivery(partner_container, delivery_id).status == "delivered"
    assert receiver.requests[-1].headers["webhook-id"] == row.webhook_id


def test_timeout_counts_as_failure_and_is_retried(
    make_container: Callable[..., Any], receiver: Receiver
) -> None:
    container = make_container(partner_allow_private=True, partner_timeout_s=1.0)
    add(container, receiver)
    receiver.reply = lambda _r: Reply(200, delay_s=3)
    [delivery_id] = publish(container, article())
    assert container.partner_pushes.attempt(delivery_id) == "failed"
    row = delivery(container, delivery_id)
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error is not None and "timeout after 1 s" in row.last_error
    assert row.next_attempt_at is not None


def test_refused_connection_is_retried(partner_container: Any, receiver: Receiver) -> None:
    partner_id, _ = add(partner_container, receiver)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    partner_container.partner_registry.edit(partner_id,
                                            PartnerInput(url=f"http://127.0.0.1:{dead_port}/hook"))
    [delivery_id] = publish(partner_container, article())
    assert partner_container.partner_pushes.attempt(delivery_id) == "failed"
    row = delivery(partner_container, delivery_id)
    assert row.status == "pending" and row.last_error and "ConnectError" in row.last_error


def test_410_disables_the_partner_and_alerts_the_admin(
    partner_container: Any, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    partner_id, _ = add(partner_container, receiver)
    receiver.reply = lambda _r: Reply(410)
    [first] = publish(partner_container, article(1))
    assert partner_container.partner_pushes.attempt(first) == "dead"
    shown = partner_container.partner_reads.partner(partner_id)
    assert shown.partner.active is False and "410" in (shown.partner.disabled_reason or "")
    assert [a.id for a in partner_container.partner_reads.alerts()] == [partner_id]
    assert f"partner {partner_id}" in caplog.text and "disabled" in caplog.text
    # A disabled partner gets no new deliveries.
    assert publish(partner_container, article(2)) == []
    assert len(receiver.requests) == 1


def test_429_and_503_honour_retry_after(partner_container: Any, receiver: Receiver) -> None:
    add(partner_container, receiver)
    receiver.reply = lambda _r: Reply(429, {"Retry-After": "120"})
    [d1] = publish(partner_container, article(1))
    now = partner_container.now()
    assert partner_container.partner_pushes.attempt(d1, now=now) == "failed"
    assert delivery(partner_container, d1).next_attempt_at == now + timedelta(seconds=120)

    receiver.reply = lambda _r: Reply(503, {"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"})
    [d2] = publish(partner_container, article(2))
    now = partner_container.now()
    assert partner_container.partner_pushes.attempt(d2, now=now) == "failed"
    # Capped at 24 h.
    assert delivery(partner_container, d2).next_attempt_at == now + timedelta(hours=24)


def test_redirect_to_metadata_is_not_followed(
    partner_container: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(partner_container, receiver)
    receiver.reply = lambda _r: Reply(302, {"Location": "http://169.254.169.254/latest/meta-data/"})
    dialed: list[Any] = []
    real = httpcore.AnyIOBackend.connect_tcp

    async def recording(self: Any, host: str, *args: Any, **kwargs: Any) -> Any:
        dialed.append(host)
        return await real(self, host, *args, **kwargs)

    # Every connection the pinned backend makes goes through here (with the address it dials).
    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", recording)
    [delivery_id] = publish(partner_container, article())
    assert partner_container.partner_pushes.attempt(delivery_id) == "failed"
    row = delivery(partner_container, delivery_id)
    assert row.status == "pending" and row.last_status_code == 302
    assert row.last_error and "redirects are not followed" in row.last_error
    assert dialed == ["127.0.0.1"] and len(receiver.requests) == 1


def test_rotation_signs_with_both_secrets_during_the_overlap(
    partner_container: Any, receiver: Receiver
) -> None:
    partner_id, old = add(partner_container, receiver)
    new = partner_container.partner_registry.rotate_secret(partner_id).secret
    assert new != old and new.startswith("whsec_")
    [delivery_id] = publish(partner_container, article())
    partner_container.partner_pushes.attempt(delivery_id)
    [got] = receiver.requests
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    verified(old, got)
    verified(new, got)
    # After the overlap only the new secret signs.
    later = partner_container.now() + timedelta(hours=25)
    article_id = delivery(partner_container, delivery_id).article_id
    partner_container.partner_registry.resend(partner_id, article_id=article_id)
    partner_container.partner_pushes.deliver_due(now=later)
    assert len(receiver.requests[-1].headers["webhook-signature"].split(" ")) == 1
    verified(new, receiver.requests[-1])


def test_partner_failing_for_days_is_disabled(
    make_container: Any, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    container = make_container(partner_allow_private=True, partner_disable_after_days=1)
    partner_id, _ = add(container, receiver)
    receiver.reply = lambda _r: Reply(500)
    [d1] = publish(container, article(1))
    now = container.now()
    container.partner_pushes.deliver_due(now=now)
    assert container.partner_reads.partner(partner_id).partner.active is True
    [d2] = publish(container, article(2))
    container.partner_pushes.deliver_due(now=now + timedelta(days=1, minutes=1))
    shown = container.partner_reads.partner(partner_id)
    assert shown.partner.active is False and "1 days" in (shown.partner.disabled_reason or "")
    assert [a.id for a in container.partner_reads.alerts()] == [partner_id]
    assert "disabled" in caplog.text
    # Its deliveries wait; enabling the partner resumes them.
    receiver.reply = lambda _r: Reply(200)
    container.partner_registry.set_active(partner_id, True)
    container.partner_pushes.deliver_due(now=now + timedelta(days=2))
    assert {delivery(container, d).status for d in (d1, d2)} == {"delivered"}


def test_rate_limit_defers_pushes_without_counting_an_attempt(
    partner_container: Any, receiver: Receiver
) -> None:
    add(partner_container, receiver, rate_limit_per_minute=1)
    [d1] = publish(partner_container, article(1))
    [d2] = publish(partner_container, article(2))
    now = partner_container.now()
    partner_container.partner_pushes.deliver_due(now=now)
    assert len(receiver.requests) == 1
    row = delivery(partner_container, d2)
    assert row.attempts == 0 and row.next_attempt_at is not None and row.next_attempt_at > now
    partner_container.partner_pushes.deliver_due(now=now + timedelta(minutes=2))
    assert {delivery(partner_container, d).status for d in (d1, d2)} == {"delivered"}


def test_sweep_enqueues_due_retries_once_until_they_are_attempted(
    partner_container: Any, receiver: Receiver
) -> None:
    add(partner_container, receiver)
    receiver.reply = lambda _r: Reply(500)
    [delivery_id] = publish(partner_container, article())
    # Just created and handed to the broker by the handler: not swept again right away.
    assert partner_container.partner_pushes.sweep() == 0
    assert partner_container.partner_pushes.attempt(delivery_id) == "failed"
    due = delivery(partner_container, delivery_id).next_attempt_at
    assert due is not None
    assert partner_container.partner_pushes.sweep(now=due - timedelta(seconds=1)) == 0
    assert partner_container.partner_pushes.sweep(now=due) == 1
    assert partner_container.partner_pushes.sweep(now=due) == 0
    # The queued task runs the attempt: same webhook-id again.
    assert partner_container.partner_pushes.attempt(delivery_id, now=due) == "failed"
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1 and len(receiver.requests) == 2


def test_unpublished_article_is_announced_to_partners_that_received_it(
    partner_container: Any, receiver: Receiver
) -> None:
    from syndicate.domain.events import ArticleEvent

    _, secret = add(partner_container, receiver, "/early")
    [first] = publish(partner_container, article(1))
    partner_container.partner_pushes.deliver_due()
    add(partner_container, receiver, "/late")
    result = partner_container.articles.unpublish(delivery(partner_container, first).article_id)
    assert result is not None and result.event_id is not None
    event = ArticleEvent(result.event_id, "article.deleted", result.article.id, result.article.guid)
    assert len(partner_container.partner_pushes.fan_out(event)) == 1
    partner_container.partner_pushes.deliver_due()
    assert [r.path for r in receiver.requests] == ["/early", "/early"]
    body = verified(secret, receiver.requests[-1])
    assert body["type"] == "article.deleted"
    assert body["data"] == {"id": result.article.id, "guid": "g-1"}


def test_push_lists_the_storys_translations(partner_container: Any, receiver: Receiver) -> None:
    _, secret = add(partner_container, receiver)
    base = partner_container.settings.base_url
    [first] = publish(partner_container, article(1, language="en", slug="river"))
    partner_container.partner_pushes.attempt(first)
    [second] = publish(partner_container, article(2, language="ru", slug="river-ru", translation_of="g-1",
                                                  url="https://ministry.example.org/ru/river"))
    assert partner_container.partner_pushes.attempt(second) == "delivered"
    original, translation = (verified(secret, r)["data"] for r in receiver.requests)
    # The original was pushed before its translation existed; the translation names the original.
    assert original["translations"] == []
    assert translation["translations"] == [
        {"id": original["id"], "guid": "g-1", "language": "en", "url": f"{base}/news/river"}]
    # A push after both exist lists the other language from the original's side too.
    [again] = publish(partner_container, article(1, language="en", slug="river", title="River treaty"))
    assert partner_container.partner_pushes.attempt(again) == "delivered"
    updated = verified(secret, receiver.requests[-1])["data"]
    assert updated["translations"] == [{"id": translation["id"], "guid": "g-2", "language": "ru",
                                        "url": "https://ministry.example.org/ru/river"}]
