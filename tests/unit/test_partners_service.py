"""Partner pushes on fakes: fan-out with filters, attempt outcomes, retries, ordering, sweep."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from standardwebhooks import Webhook

from syndicate.domain.commands import PushDeliveries
from syndicate.domain.events import ARTICLE_DELETED, ARTICLE_UPDATED
from syndicate.partners.ports import AttemptOutcome, DeliveryStatus, PushFailed
from syndicate.partners.schedule import MAX_ATTEMPTS, RETRY_DELAYS
from syndicate.partners.service import on_article_event
from tests.unit.fakes.partners import BASE_URL, T0, World, answer, make_world


@pytest.fixture
def world() -> World:
    return make_world()


def paths(world: World) -> list[tuple[str, str]]:
    return sorted((s.url.rsplit("/", 1)[1], json.loads(s.body)["data"]["guid"]) for s in world.client.sent)


# --- fan-out ---------------------------------------------------------------------------------------

def test_publish_fans_out_by_category_and_language_and_enqueues_each_push(world: World) -> None:
    world.partner("sport", categories=[" Sport "])
    world.partner("french", language="fr")
    world.partner("all")
    on_article_event(world.event(1, 1, categories=("sport",), language="en"), partner_pushes=world.pushes)
    on_article_event(world.event(2, 2, categories=("politics",), language="fr-CA"),
                     partner_pushes=world.pushes)
    # One push task per event: its deliveries go out together.
    assert world.tasks.submitted == [PushDeliveries((1, 2)), PushDeliveries((3, 4))]
    world.pushes.deliver_due()
    assert paths(world) == [("all", "g-1"), ("all", "g-2"), ("french", "g-2"), ("sport", "g-1")]


def test_fan_out_is_idempotent_and_skips_disabled_partners(world: World) -> None:
    world.partner("on")
    off, _ = world.partner("off")
    world.registry.set_active(off, False)
    event = world.event(1)
    assert len(world.pushes.fan_out(event)) == 1
    assert world.pushes.fan_out(event) == []
    assert [d.partner_id for d in world.store.deliveries.values()] == [1]


def test_deleted_article_is_announced_only_to_partners_that_received_it(world: World) -> None:
    early, _ = world.partner("early")
    world.publish(1)
    world.partner("late")
    [gone] = world.pushes.fan_out(world.event(2, 1, type_=ARTICLE_DELETED))
    assert world.store.deliveries[gone].partner_id == early
    body = json.loads(world.store.payloads[2])
    assert body["type"] == "article.deleted" and body["data"] == {"id": 1, "guid": "g-1"}


def test_body_is_the_article_json_with_the_event_time(world: World) -> None:
    world.partner()
    world.publish(1, title="Ünïcode")
    body = json.loads(world.store.payloads[1])
    assert body["type"] == "article.published" and body["timestamp"] == T0.isoformat()
    assert body["data"]["title"] == "Ünïcode" and body["data"]["url"] == f"{BASE_URL}/news/s-1"


# --- one attempt -----------------------------------------------------------------------------------

def test_successful_attempt_is_signed_and_delivered(world: World) -> None:
    _, secret = world.partner()
    [delivery_id] = world.publish(1)
    assert world.pushes.attempt(delivery_id) is AttemptOutcome.DELIVERED
    [sent] = world.client.sent
    assert Webhook(secret).verify(sent.body, sent.headers)["data"]["guid"] == "g-1"
    delivery = world.store.deliveries[delivery_id]
    assert sent.headers["webhook-id"] == delivery.webhook_id
    assert delivery.status is DeliveryStatus.DELIVERED and delivery.delivered_at == T0
    # Nothing left to do: a second run of the same task sends nothing.
    assert world.pushes.attempt(delivery_id) is AttemptOutcome.GONE and len(world.client.sent) == 1


def test_failed_attempt_schedules_a_retry_with_jitter(world: World) -> None:
    partner_id, _ = world.partner()
    world.client.reply = answer(500, body="upstream down")
    [delivery_id] = world.publish(1)
    assert world.pushes.attempt(delivery_id) is AttemptOutcome.FAILED
    delivery = world.store.deliveries[delivery_id]
    assert delivery.status is DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_error == "HTTP 500: upstream down" and delivery.last_status_code == 500
    assert delivery.next_attempt_at is not None
    assert abs((delivery.next_attempt_at - T0) / RETRY_DELAYS[0] - 1) <= 0.1
    assert world.store.partner(partner_id).failing_since == T0
    # Not due before its time.
    assert world.pushes.attempt(delivery_id) is AttemptOutcome.NOT_DUE


def test_no_answer_is_a_failure_with_the_reason_logged(world: World) -> None:
    world.partner()
    world.client.reply = lambda _s: PushFailed("timeout after 15 s (ReadTimeout)")
    [delivery_id] = world.publish(1)
    assert world.pushes.attempt(delivery_id) is AttemptOutcome.FAILED
    assert world.store.deliveries[delivery_id].last_error == "timeout after 15 s (ReadTimeout)"
    assert world.store.attempts[-1].status_code is None


def test_delivery_dies_after_the_schedule_with_one_webhook_id(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.partner()
    world.client.reply = answer(503)
    [delivery_id] = world.publish(1)
    outcomes = []
    for _ in range(MAX_ATTEMPTS):
        outcomes.append(world.pushes.attempt(delivery_id))
        due = world.store.deliveries[delivery_id].next_attempt_at
        if due is not None:
            world.clock.at = due
    assert outcomes == [AttemptOutcome.FAILED] * (MAX_ATTEMPTS - 1) + [AttemptOutcome.DEAD]
    delivery = world.store.deliveries[delivery_id]
    assert delivery.status is DeliveryStatus.DEAD and delivery.attempts == MAX_ATTEMPTS == 8
    assert {s.headers["webhook-id"] for s in world.client.sent} == {delivery.webhook_id}
    assert f"delivery {delivery_id} to partner 1 dead after 8 attempts" in caplog.text
    # One structured line per failed push: seven retries announced, then the end.
    failures = [r for r in caplog.records if r.getMessage().startswith("partner push failed")]
    assert len(failures) == MAX_ATTEMPTS
    assert [r.attempt for r in failures] == list(range(1, 9))  # type: ignore[attr-defined]
    assert "retry at" in failures[0].getMessage() and failures[-1].outcome == "dead"  # type: ignore[attr-defined]


def test_retry_after_of_429_is_honoured_and_capped(world: World) -> None:
    world.partner()
    world.client.reply = answer(429, retry_after="120")
    [d1] = world.publish(1)
    world.pushes.attempt(d1)
    assert world.store.deliveries[d1].next_attempt_at == T0 + timedelta(seconds=120)
    world.client.reply = answer(503, retry_after="Fri, 01 Jan 2100 00:00:00 GMT")
    [d2] = world.publish(2, 2)
    world.pushes.attempt(d2)
    assert world.store.deliveries[d2].next_attempt_at == T0 + timedelta(hours=24)


def test_410_kills_the_delivery_and_disables_the_partner(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    partner_id, _ = world.partner()
    world.client.reply = answer(410)
    [delivery_id] = world.publish(1)
    assert world.pushes.attempt(delivery_id) is AttemptOutcome.DEAD
    partner = world.store.partner(partner_id)
    assert not partner.active and partner.disabled_reason == f"endpoint answered 410 Gone on {T0.isoformat()}"
    assert f"partner {partner_id} (agency) disabled" in caplog.text
    assert world.publish(2, 2) == []


def test_partner_failing_for_days_is_disabled_and_enabling_resumes(world: World) -> None:
    partner_id, _ = world.partner()
    world.client.reply = answer(500)
    [d1] = world.publish(1)
    world.pushes.deliver_due()
    world.clock.at = T0 + timedelta(days=5, minutes=1)
    world.pushes.deliver_due()
    partner = world.store.partner(partner_id)
    assert not partner.active and "(5 days)" in (partner.disabled_reason or "")
    # Paused, not lost: enabling makes it due now and it goes out.
    world.clock.at += timedelta(hours=1)
    assert world.pushes.attempt(d1) is AttemptOutcome.PAUSED
    world.client.reply = answer(200)
    world.registry.set_active(partner_id, True)
    assert world.pushes.deliver_due() == 1
    assert world.store.deliveries[d1].status is DeliveryStatus.DELIVERED
    assert world.store.partner(partner_id).failing_since is None


def test_rate_limit_postpones_without_counting_an_attempt(world: World) -> None:
    world.partner(rate_limit_per_minute=1)
    [d1] = world.publish(1)
    [d2] = world.publish(2, 2)
    assert world.pushes.attempt(d1) is AttemptOutcome.DELIVERED
    assert world.pushes.attempt(d2) is AttemptOutcome.THROTTLED
    delivery = world.store.deliveries[d2]
    assert delivery.attempts == 0 and delivery.next_attempt_at == T0 + timedelta(seconds=60)
    assert len(world.client.sent) == 1


# --- ordering and sweeps ---------------------------------------------------------------------------

def test_an_update_waits_for_its_publication_then_goes_out_in_the_same_run(world: World) -> None:
    world.partner()
    world.client.reply = answer(500)
    [first] = world.publish(1, 1, title="v1")
    [second] = world.pushes.fan_out(world.event(2, 1, type_=ARTICLE_UPDATED, title="v2"))
    assert world.pushes.push([first, second]) == {
        first: AttemptOutcome.FAILED, second: AttemptOutcome.WAITING}
    world.clock.at = T0 + timedelta(hours=1)
    assert world.pushes.attempt(second) is AttemptOutcome.WAITING
    world.tasks.submitted.clear()
    world.client.reply = answer(200)
    # The publication's delivery releases the update, which the same run pushes after it.
    assert world.pushes.push([first]) == {first: AttemptOutcome.DELIVERED,
                                          second: AttemptOutcome.DELIVERED}
    assert world.tasks.submitted == []
    titles = [json.loads(s.body)["data"]["title"] for s in world.client.sent]
    assert titles == ["v1", "v1", "v2"]


def test_sweep_enqueues_due_retries_once_until_the_window_passes(world: World) -> None:
    world.partner()
    world.client.reply = answer(500)
    [delivery_id] = world.publish(1)
    # Just handed to the broker by the handler: not swept again right away.
    assert world.pushes.sweep() == 0
    world.pushes.attempt(delivery_id)
    due = world.store.deliveries[delivery_id].next_attempt_at
    assert due is not None
    world.tasks.submitted.clear()
    assert world.pushes.sweep(now=due - timedelta(seconds=1)) == 0
    assert world.pushes.sweep(now=due) == 1 and world.tasks.submitted == [PushDeliveries((delivery_id,))]
    assert world.pushes.sweep(now=due) == 0
    assert world.pushes.sweep(now=due + timedelta(seconds=61)) == 1


def test_a_broker_that_is_down_loses_nothing(world: World) -> None:
    world.partner()
    world.tasks.down = True
    [delivery_id] = world.publish(1)
    assert world.pushes.enqueue([delivery_id]) == 0
    world.tasks.down = False
    assert world.pushes.sweep(now=T0 + timedelta(minutes=2)) == 1
    assert world.tasks.submitted == [PushDeliveries((delivery_id,))]
