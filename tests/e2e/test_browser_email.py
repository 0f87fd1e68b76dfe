"""The digest and confirmation mails as a phone and a dark-mode client show them (real Chromium),
and the edition's "view in browser" page the mail links to."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from syndicate.web.app import create_app
from tests.conftest import EXAMPLES
from tests.e2e.browser import screenshot
from tests.integration.digest_helpers import SmtpSink, add_active, make_list, publish_sample

pytest_plugins = ["tests.integration.conftest_digests"]
BASE = "https://news.example.com"
DARK_CARD = "rgb(31, 31, 34)"


def card_look(page: Any) -> tuple[float, str, int, int]:
    """Width and background of the mail's card, the document's scroll width and the window width."""
    result: tuple[float, str, int, int] = page.evaluate(
        "() => { const c = document.querySelector('table.card');"
        " return [c.getBoundingClientRect().width, getComputedStyle(c).backgroundColor,"
        " document.documentElement.scrollWidth, window.innerWidth]; }")
    return result


@pytest.fixture
def sent_digest(make_container: Callable[..., Any], smtp_sink: SmtpSink) -> tuple[Any, Any]:
    c = make_container(smtp_url=smtp_sink.url, base_url=BASE, site_title="Daily Courier")
    lst = make_list(c, "world", name="World news")
    add_active(c, lst, ["ivan@example.com"], language="ru")
    publish_sample(c)
    edition_id = c.digests.send_now("world")
    assert edition_id is not None
    c.digests.send_batch(edition_id, 0, 2**62)
    [mail] = smtp_sink.messages()
    return c, mail


def test_digest_reads_well_in_light_dark_and_on_a_phone(
    sent_digest: tuple[Any, Any], browser_page: Any
) -> None:
    _, mail = sent_digest
    html = mail.get_body(("html",)).get_content()
    page = browser_page
    page.set_content(html)
    width, background, _, _ = card_look(page)
    assert width == 600 and background == "rgb(255, 255, 255)"
    assert page.inner_text("td.brand") == "Daily Courier · World news"
    screenshot(page, "email-digest-light")
    page.emulate_media(color_scheme="dark")
    assert card_look(page)[1] == DARK_CARD  # the dark rules beat the inlined light colours
    screenshot(page, "email-digest-dark")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 390, "height": 844})
    width, _, scroll, inner = card_look(page)
    assert width <= 390 and scroll <= inner == 390
    screenshot(page, "email-digest-390")


def test_view_in_browser_opens_the_edition_and_nothing_else(sent_digest: tuple[Any, Any]) -> None:
    c, mail = sent_digest
    text = mail.get_body(("plain",)).get_content()
    link = re.search(rf"Открыть в браузере: {BASE}(/editions/\d+\?sig=[\w-]+&lang=ru)", text)
    assert link is not None, text
    client = TestClient(create_app(c))
    page = client.get(link.group(1))
    assert page.status_code == 200
    assert "A quarter of a century together" in page.text and "Daily Courier" in page.text
    assert "ZQX" not in page.text and "Отписаться" not in page.text and 'lang="ru"' in page.text
    forged = client.get(link.group(1).replace("sig=", "sig=x"), headers={"Accept": "text/html"})
    assert forged.status_code == 404 and "Page not found" in forged.text
    other = client.get(re.sub(r"/editions/\d+", "/editions/999", link.group(1)))
    assert other.status_code == 404


def test_confirmation_mail_fits_a_phone_and_says_when_it_expires(
    make_container: Callable[..., Any], smtp_sink: SmtpSink, browser_page: Any
) -> None:
    c = make_container(smtp_url=smtp_sink.url, base_url=BASE, site_title="Daily Courier",
                       confirm_token_hours=48)
    make_list(c, "world", name="World news")
    client = TestClient(create_app(c))
    assert client.post("/subscribe", json={"email": "ann@example.com", "lists": ["world"]}).status_code == 202
    [mail] = smtp_sink.messages()
    text = mail.get_body(("plain",)).get_content()
    assert re.search(r"This link works until \d{1,2} \w+ \d{4}, \d\d:\d\d UTC\.", text), text
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.set_content(mail.get_body(("html",)).get_content())
    width, _, scroll, inner = card_look(page)
    assert width <= 390 and scroll <= inner
    assert page.inner_text("td.brand") == "Daily Courier"
    screenshot(page, "email-confirm-390")
    page.emulate_media(color_scheme="dark")
    assert card_look(page)[1] == DARK_CARD
    screenshot(page, "email-confirm-dark")


def test_a_russian_reader_gets_a_russian_subject_with_the_right_plural(
    make_container: Callable[..., Any], smtp_sink: SmtpSink
) -> None:
    c = make_container(smtp_url=smtp_sink.url, base_url=BASE)
    lst = make_list(c, "world", name="Мир")
    add_active(c, lst, ["ivan@example.com"], language="ru")
    add_active(c, lst, ["ann@example.com"], language="en")
    publish_sample(c)
    c.articles.import_file(EXAMPLES / "peacekeeping-exercise.json",
                           overrides={"published_at": c.now().isoformat()})
    edition_id = c.digests.send_now("world")
    assert edition_id is not None
    c.digests.send_batch(edition_id, 0, 2**62)
    mails = {m["To"]: m for m in smtp_sink.messages()}
    assert mails["ivan@example.com"]["Subject"] == "Мир: 2 новые статьи"
    assert mails["ann@example.com"]["Subject"] == "Мир: 2 new articles"
    text = mails["ivan@example.com"].get_body(("plain",)).get_content()
    months = "января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря"
    assert re.search(rf"\n\d{{1,2}} ({months}) \d{{4}}, \d\d:\d\d UTC", text), text
