"""Per-reader content of an edition: readers are grouped by variant (mail language and entries),
each variant renders once, and a reader with nothing new gets no mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from syndicate.digests.batch import NOTHING_NEW
from syndicate.digests.edition_mail import TemplateCache, by_variant, variant_of
from syndicate.digests.fanout import Fanout
from syndicate.digests.ports import ClaimedDelivery, NewEdition
from syndicate.digests.states import DeliveryState, Frequency
from syndicate.digests.tokens import Signer
from syndicate.domain.stories import stories_of
from syndicate.settings import Settings, load_settings
from tests.unit.fakes.digests import FakeDeliveryStore, FakeDigestDb, FakeEditionStore
from tests.unit.fakes.mail import FakeTransport, fake_mailer

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(var_dir=tmp_path, secret_key="variant-secret-0123456789", admin_token="t" * 24,
                         base_url="https://news.example.com", smtp_connections=2)


def row(delivery_id: int, language: str, entries: tuple[int, ...] | None) -> ClaimedDelivery:
    return ClaimedDelivery(delivery_id, delivery_id, f"r{delivery_id}@example.org", "", language, 1, True,
                           entries)


def test_rows_are_grouped_by_variant_in_order_of_first_appearance() -> None:
    rows = [row(1, "en", (1, 3)), row(2, "ru", (2, 3)), row(3, "en-GB", (1, 3)), row(4, "ru-RU", (2, 3)),
            row(5, "en", (3,)), row(6, "de", (1, 3))]
    assert [r.delivery_id for r in by_variant(rows)] == [1, 3, 6, 2, 4, 5]
    # 'en-GB' and 'de' read the English catalog: one variant with 'en' for equal entries.
    assert variant_of(rows[0]) == variant_of(rows[2]) == variant_of(rows[5])
    assert variant_of(rows[0]) != variant_of(rows[4])


def test_each_variant_renders_once_and_readers_get_their_own_version(settings: Settings) -> None:
    db = FakeDigestDb()
    lst = db.add_list()
    en = db.add_article("Statement on the river treaty", NOW - timedelta(minutes=9))
    ru = db.add_article("Заявление о договоре по реке", NOW - timedelta(minutes=4), language="ru",
                        translation_of=en.guid)
    other = db.add_article("Weather service moves", NOW - timedelta(minutes=2))
    readers = {"en1": "en", "en2": "en", "ru1": "ru", "ru2": "ru", "ru3": "ru"}
    for name, language in readers.items():
        db.add_reader(f"{name}@example.org", lst, language=language)
    editions = FakeEditionStore(db)
    stories = stories_of([other, ru, en], editions.linked([other, ru, en]), until=NOW)
    edition_id = editions.add(NewEdition(lst.id, Frequency.DAILY, None, NOW - timedelta(days=1), NOW,
                                         (other.id, en.id), "World news: 2 new articles",
                                         tuple(stories)), lst, now=NOW)
    assert edition_id is not None
    # What the SQL claim decides: per reader, one version per story not mailed before.
    entries = {"en1": (other.id, en.id), "en2": (other.id, en.id), "ru1": (other.id, ru.id),
               "ru2": (ru.id,), "ru3": ()}
    for delivery in db.deliveries.values():
        delivery.article_ids = entries[db.subscribers[delivery.subscriber_id].email.split("@")[0]]
    transport = FakeTransport()
    cache = TemplateCache()
    signer = Signer(settings.resolved_secret_key)
    fanout = Fanout(FakeDeliveryStore(db), fake_mailer(transport), cache, signer, settings, lambda: NOW)

    result = fanout.send_batch(edition_id, 0, 10**9)

    assert cache.renders == 3  # (en: other+en), (ru: other+ru), (ru: ru); never per recipient
    assert result.counts == {"sent": 4, "skipped": 1}
    ru3 = next(d for d in db.deliveries.values()
               if db.subscribers[d.subscriber_id].email == "ru3@example.org")
    assert ru3.state == DeliveryState.SKIPPED and ru3.last_reply == NOTHING_NEW
    bodies = {rcpt.split("@")[0]: _html(data) for _, rcpt, data in transport.sent}
    assert "Заявление" in bodies["ru1"] and "river treaty" not in bodies["ru1"] and "Weather" in bodies["ru1"]
    assert "river treaty" in bodies["en1"] and "Заявление" not in bodies["en1"]
    assert "Заявление" in bodies["ru2"] and "Weather" not in bodies["ru2"]


def _html(data: bytes) -> str:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())
