"""The admin read model and the erase use case on both databases: day grouping, growth counts,
article search, and the address cut out of stored SMTP replies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from syndicate.digests.erasure import erase
from syndicate.storage.admin_read import ArticleFilter
from syndicate.storage.digest_models import DeliveryAttemptRow, DeliveryRow, SubscriberRow, SubscriptionRow
from tests.integration.digest_helpers import add_active, make_list, publish_sample


@pytest.fixture(params=["sqlite", "postgresql"])
def container(request: pytest.FixtureRequest, make_container: Callable[..., Any]) -> Any:
    options = {"database_url": request.getfixturevalue("pg_url")} if request.param == "postgresql" else {}
    return make_container(**options)


def test_growth_days_and_search(container: Any) -> None:
    world = make_list(container, slug="world", name="World")
    make_list(container, slug="empty", name="Empty")
    add_active(container, world, ["a@example.org", "b@example.org", "c@example.org"])
    article = publish_sample(container)
    edition_id = container.digests.send_now("world")
    now = container.now()
    with container.session_factory() as session:
        ids = sorted(session.scalars(select(DeliveryRow.id).where(DeliveryRow.edition_id == edition_id)))
        session.execute(update(DeliveryRow).where(DeliveryRow.id == ids[0]).values(
            state="sent", sent_at=now - timedelta(days=2)))
        session.execute(update(DeliveryRow).where(DeliveryRow.id == ids[1]).values(state="sent", sent_at=now))
        session.execute(update(DeliveryRow).where(DeliveryRow.id == ids[2]).values(
            state="bounced", updated_at=now))
        first = session.scalar(select(SubscriberRow.id).where(SubscriberRow.email == "a@example.org"))
        session.execute(update(SubscriptionRow).where(SubscriptionRow.subscriber_id == first).values(
            created_at=now - timedelta(days=40)))
        session.commit()
    reads = container.admin_reads
    growth = {g.slug: (g.active, g.joined_7d, g.joined_30d, g.pending, g.left)
              for g in reads.list_growth(now)}
    assert growth == {"world": (3, 2, 2, 0, 0), "empty": (0, 0, 0, 0, 0)}
    days = reads.deliveries_per_day(until=now, days=3)
    assert [(d.day, d.sent, d.failed) for d in days] == [
        (now.date() - timedelta(days=2), 1, 0), (now.date() - timedelta(days=1), 0, 0), (now.date(), 1, 1)]
    word = article.title.split()[1]
    found, total = reads.search_articles(ArticleFilter(q=word.lower()), now=now, limit=10)
    assert [a.id for a in found] == [article.id] and total == 1
    assert reads.search_articles(ArticleFilter(q="100%_"), now=now, limit=10) == ([], 0)
    assert reads.search_articles(ArticleFilter(status="scheduled"), now=now, limit=10) == ([], 0)
    assert reads.search_articles(ArticleFilter(language=article.language.split("-")[0]), now=now,
                                 limit=10)[1] == 1
    failed = reads.failed_deliveries(since=now - timedelta(hours=1), limit=10)
    assert [f.email for f in failed] == ["c@example.org"]


def test_erase_cuts_the_address_out_of_replies(container: Any) -> None:
    world = make_list(container, slug="world")
    add_active(container, world, ["Olga@Example.org"])
    publish_sample(container)
    container.digests.send_now("world")
    with container.session_factory() as session:
        olga = session.scalars(select(SubscriberRow)).one()
        delivery = session.scalars(select(DeliveryRow)).one()
        delivery.state, delivery.last_reply = "bounced", "550 <olga@example.org> unknown; Olga@Example.org"
        session.add(DeliveryAttemptRow(delivery_id=delivery.id, state="bounced", at=container.now(),
                                       reply="550 <olga@example.org> unknown"))
        session.commit()
        olga_id = olga.id
    erase(container.digest_uow, olga_id, now=container.now())
    with container.session_factory() as session:
        row = session.get(SubscriberRow, olga_id)
        assert row is not None and (row.email, row.email_key) == (f"erased-{olga_id}@erased.invalid",) * 2
        assert session.scalars(select(DeliveryRow.last_reply)).one() == "550 <[erased]> unknown; [erased]"
        assert session.scalars(select(DeliveryAttemptRow.reply)).one() == "550 <[erased]> unknown"
        assert session.scalars(select(DeliveryRow.state)).one() == "bounced"
