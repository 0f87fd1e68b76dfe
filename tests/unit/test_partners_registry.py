"""The partner registry on fakes: add, validate, rotate the secret, enable/disable, replay."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook

from syndicate.domain.commands import PushDeliveries
from syndicate.errors import InvalidPartner, NotFound, PartnerUrlRefused
from syndicate.partners.ports import ADMIN_REASON, AttemptOutcome, DeliveryStatus, PartnerInput
from tests.unit.fakes.partners import T0, World, answer, make_world

URL = "http://127.0.0.1:9/hook"


@pytest.fixture
def world() -> World:
    return make_world()


def test_add_returns_the_partner_and_its_secret_once(world: World) -> None:
    partner, secret = world.registry.add(
        PartnerInput(name="  Agency ", url=URL, categories=[" World", "POLITICS"], language="EN_us")
    )
    assert secret.startswith("whsec_") and world.store.keys(partner.id).secret == secret
    assert partner.name == "Agency" and partner.categories == ("world", "politics")
    assert partner.active and partner.language == "en-US" and partner.created_at == T0


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"url": URL}, "name", "is required"),
    ({"name": "x"}, "url", "is required"),
    ({"name": "  ", "url": URL}, "name", "must not be empty"),
    ({"name": "x", "url": URL, "language": "not a tag"}, "language", "'not a tag' is not a BCP 47"),
    ({"name": "x", "url": URL, "categories": ["a b"]}, "categories", "'a b' is not a category slug"),
    ({"name": "x", "url": URL, "rate_limit_per_minute": -1}, "rate_limit_per_minute", "-1 is negative"),
])
def test_invalid_input_names_the_field(world: World, fields: dict[str, object], field: str,
                                       message: str) -> None:
    with pytest.raises(InvalidPartner) as info:
        world.registry.add(PartnerInput(**fields))  # type: ignore[arg-type]
    assert info.value.field == field and message in str(info.value)
    assert world.store.partners == {}


def test_metadata_url_is_refused_even_when_private_is_allowed(world: World) -> None:
    with pytest.raises(PartnerUrlRefused, match="metadata"):
        world.registry.add(PartnerInput(name="x", url="http://169.254.169.254/latest/"))


def test_rotation_signs_with_both_secrets_during_the_overlap(world: World) -> None:
    partner_id, old = world.partner()
    rotated = world.registry.rotate_secret(partner_id)
    assert rotated.secret != old and rotated.previous_until == T0 + world.registry.secret_overlap
    assert world.store.partner(partner_id).previous_secret_until == rotated.previous_until
    [d1] = world.publish(1)
    world.pushes.attempt(d1)
    sent = world.client.sent[-1]
    assert len(sent.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(sent.body, sent.headers)
    Webhook(rotated.secret).verify(sent.body, sent.headers)
    # After the overlap only the new secret signs.
    world.clock.at = rotated.previous_until
    [d2] = world.publish(2, 2)
    world.pushes.attempt(d2)
    assert len(world.client.sent[-1].headers["webhook-signature"].split(" ")) == 1
    with pytest.raises(NotFound, match="partner 99 not found"):
        world.registry.rotate_secret(99)


def test_edit_changes_given_fields_and_can_disable(world: World) -> None:
    partner_id, _ = world.partner(categories=["world"])
    edited = world.registry.edit(partner_id, PartnerInput(name="A2", categories=[]), active=False)
    assert edited.name == "A2" and edited.categories == () and edited.url.endswith("/agency")
    assert not edited.active and edited.disabled_reason == ADMIN_REASON


def test_resend_failed_requeues_dead_deliveries_with_their_webhook_ids(world: World) -> None:
    partner_id, secret = world.partner()
    world.client.reply = answer(410)
    [dead] = world.publish(1)
    world.pushes.attempt(dead)
    world.registry.set_active(partner_id, True)
    world.tasks.submitted.clear()
    world.client.reply = answer(200)
    replay = world.registry.resend(partner_id, failed=True)
    assert replay.ids == [dead] and not replay.paused
    assert world.tasks.submitted == [PushDeliveries((dead,))]
    delivery = world.store.deliveries[dead]
    assert delivery.status is DeliveryStatus.PENDING and delivery.attempts == 0
    assert world.pushes.attempt(dead) is AttemptOutcome.DELIVERED
    first, again = world.client.sent
    assert first.headers["webhook-id"] == again.headers["webhook-id"] == delivery.webhook_id
    assert first.body == again.body
    Webhook(secret).verify(again.body, again.headers)


def test_resend_of_an_article_the_partner_never_got_creates_one_delivery(world: World) -> None:
    world.event(1, 7, title="old news")
    partner_id, _ = world.partner()
    replay = world.registry.resend(partner_id, article_id=7)
    [delivery_id] = replay.ids
    assert world.tasks.submitted == [PushDeliveries((delivery_id,))]
    assert world.pushes.attempt(delivery_id) is AttemptOutcome.DELIVERED
    assert b"old news" in world.client.sent[-1].body
    with pytest.raises(NotFound, match="article 8 not found"):
        world.registry.resend(partner_id, article_id=8)


def test_resend_of_an_article_outside_the_filters_is_refused_unless_forced(world: World) -> None:
    world.event(1, 7, categories=("sport",), language="ru")
    partner_id, _ = world.partner(categories=["world"], language="en")
    with pytest.raises(InvalidPartner) as info:
        world.registry.resend(partner_id, article_id=7)
    assert info.value.field == "article"
    assert str(info.value) == (
        "partner field 'article': article 7 (categories sport, language ru) is outside the filters "
        f"of partner {partner_id} (categories world, language en); add --force to send it anyway")
    assert world.tasks.submitted == []
    [delivery_id] = world.registry.resend(partner_id, article_id=7, force=True).ids
    assert world.tasks.submitted == [PushDeliveries((delivery_id,))]


def test_resend_to_a_disabled_partner_waits_until_it_is_enabled(world: World) -> None:
    partner_id, _ = world.partner()
    [d1] = world.publish(1)
    world.pushes.attempt(d1)
    world.registry.set_active(partner_id, False)
    world.tasks.submitted.clear()
    replay = world.registry.resend(partner_id, article_id=1)
    assert replay.ids == [d1] and replay.paused and world.tasks.submitted == []
    assert world.pushes.attempt(d1) is AttemptOutcome.PAUSED


def test_resend_needs_exactly_one_target(world: World) -> None:
    partner_id, _ = world.partner()
    for kwargs in ({}, {"article_id": 1, "failed": True}):
        with pytest.raises(InvalidPartner, match="exactly one of --article ID or --failed"):
            world.registry.resend(partner_id, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="partner 42 not found"):
        world.registry.resend(42, failed=True)
