"""Double opt-in, one-click unsubscribe and preferences over HTTP, with a real SMTP server."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from syndicate.digests.tokens import MANAGE, Signer
from syndicate.storage.digest_models import SubscriberRow, SubscriptionRow
from syndicate.web.app import create_app
from tests.integration.digest_helpers import SmtpSink, add_active, make_list, publish_sample

pytest_plugins = ["tests.integration.conftest_digests"]
BASE = "https://news.example.com"


@pytest.fixture
def web(make_container: Callable[..., Any], smtp_sink: SmtpSink) -> tuple[Any, TestClient]:
    c = make_container(smtp_url=smtp_sink.url, base_url=BASE, subscribe_limit_per_hour=3)
    return c, TestClient(create_app(c), base_url="http://testserver")


def subscriber(c: Any, email: str) -> SubscriberRow:
    with c.session_factory() as session:
        row = session.scalar(select(SubscriberRow).where(SubscriberRow.email == email))
        assert row is not None
        return row


def manage_token(c: Any, email: str) -> str:
    with c.session_factory() as session:
        row = session.scalar(select(SubscriberRow).where(SubscriberRow.email == email))
        sub = session.scalar(select(SubscriptionRow).where(SubscriptionRow.subscriber_id == row.id))
        assert row is not None and sub is not None
        return Signer(c.settings.resolved_secret_key).make(MANAGE, row.id, (sub.list_id,), c.now())


def test_double_opt_in_never_reveals_membership(web: tuple[Any, TestClient], smtp_sink: SmtpSink) -> None:
    c, client = web
    make_list(c)
    first = client.post("/subscribe", json={"email": "New@Example.com", "lists": ["world"], "language": "ru"})
    assert first.status_code == 202
    assert subscriber(c, "New@example.com").status == "pending"
    msg = smtp_sink.messages()[0]
    assert msg["To"] == "New@example.com" and msg["Subject"] == "Подтвердите подписку"
    link = re.search(rf"{BASE}/confirm/\S+", msg.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert link is not None
    confirmed = client.get(link.group().removeprefix(BASE))
    # The reader asked for Russian: the page that greets them is in Russian.
    assert confirmed.status_code == 200 and "Подписка подтверждена" in confirmed.text
    assert subscriber(c, "New@example.com").status == "active"
    again = client.post("/subscribe", json={"email": "new@example.com", "lists": ["world"]})
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    form = client.post("/subscribe", data={"email": "other@example.com", "lists": "world"})
    assert form.status_code == 202 and "Check your inbox" in form.text


def test_bad_input_is_named_and_repeats_are_limited(web: tuple[Any, TestClient]) -> None:
    c, client = web
    make_list(c)
    bad = client.post("/subscribe", json={"email": "not-an-address", "lists": ["world"]})
    assert bad.status_code == 422 and bad.json()["field"] == "email"
    unknown = client.post("/subscribe", json={"email": "a@example.com", "lists": ["nope"]})
    assert unknown.status_code == 422 and "nope" in unknown.json()["detail"]
    codes = [client.post("/subscribe", json={"email": "b@example.com", "lists": ["world"]}).status_code
             for _ in range(4)]
    assert codes == [202, 202, 202, 429]


def test_expired_or_forged_confirm_links_do_nothing(web: tuple[Any, TestClient]) -> None:
    _, client = web
    response = client.get("/confirm/AAAA.forged")
    assert response.status_code == 400 and "does not work" in response.text


def test_get_never_unsubscribes_and_one_click_post_does(
    web: tuple[Any, TestClient], smtp_sink: SmtpSink
) -> None:
    c, client = web
    lst = make_list(c)
    add_active(c, lst, ["stay@example.com", "leave@example.com"])
    token = manage_token(c, "leave@example.com")
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and 'method="post"' in page.text
    assert subscriber(c, "leave@example.com").status == "active"
    one_click = client.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click",
                            headers={"Content-Type": "application/x-www-form-urlencoded"},
                            follow_redirects=False)
    assert one_click.status_code == 200 and "unsubscribed" in one_click.text
    assert subscriber(c, "leave@example.com").status == "unsubscribed"
    publish_sample(c)
    edition_id = c.digests.send_now("world")
    assert edition_id is not None
    c.digests.send_batch(edition_id, 0, 2**62)
    assert smtp_sink.recipients() == ["stay@example.com"]


def test_preferences_change_language_and_frequency(web: tuple[Any, TestClient]) -> None:
    c, client = web
    lst = make_list(c, custom_frequency=True)
    make_list(c, slug="sport", name="Sport")
    add_active(c, lst, ["reader@example.com"])
    token = manage_token(c, "reader@example.com")
    page = client.get(f"/preferences/{token}")
    assert page.status_code == 200 and "World news" in page.text and "Sport" in page.text
    sport_id = lst.id + 1
    saved = client.post(f"/preferences/{token}", data={
        "lists": [str(lst.id), str(sport_id)], f"frequency-{lst.id}": "weekly", "language": "ru"})
    assert saved.status_code == 200 and "Сохранено." in saved.text  # shown in the language just chosen
    assert '<html lang="ru">' in saved.text and ">Ежедневно</span>" in saved.text
    with c.session_factory() as session:
        row = subscriber(c, "reader@example.com")
        mine = {s.list_id: (s.status, s.frequency) for s in session.scalars(select(SubscriptionRow))}
    assert row.language == "ru"
    assert mine == {lst.id: ("active", "weekly"), sport_id: ("active", None)}
