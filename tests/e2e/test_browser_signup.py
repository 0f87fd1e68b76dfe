"""A reader signs up from the site, confirms from the mail, changes preferences and leaves, in
real headless Chromium at 1280 px and at 390 px; no page scrolls sideways on the phone."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, run_cli, wait_for
from tests.e2e.browser import screenshot

SAMPLE = str(EXAMPLES / "csto-anniversary.txt")


def fits(page: Any, width: int, name: str) -> None:
    """Screenshot the page; at phone width assert nothing is wider than the screen."""
    screenshot(page, f"{name}-{width}")
    if width <= 400:
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"{page.url} scrolls sideways at {width} px: {scroll} > {inner}"


def mail_to(outbox: Path, address: str) -> EmailMessage:
    """The one .eml in the outbox addressed to `address` (waits for the background send)."""
    found: list[EmailMessage] = []

    def arrived() -> bool:
        for path in outbox.glob("*.eml"):
            msg = message_from_bytes(path.read_bytes(), policy=policy.default)
            if msg["To"] == address:
                found.append(msg)  # type: ignore[arg-type]
                return True
        return False

    wait_for(arrived, 30, f"a mail to {address} in {outbox}")
    return found[0]


@pytest.mark.parametrize("width", [1280, 390])
def test_reader_subscribes_confirms_changes_and_leaves(
    width: int, embedded_env: dict[str, str], var_dir: Path, serve: Any, browser_page: Any
) -> None:
    server = serve(embedded_env | {"SITE_TITLE": "Daily Courier"})
    env = embedded_env | {"BASE_URL": server.url}
    for args in (["lists", "create", "world", "--name", "World news", "--frequency", "daily",
                  "--description", "The day's events abroad, every morning before eight."],
                 ["lists", "create", "staff", "--name", "Staff memo", "--frequency", "weekly", "--private"],
                 ["articles", "import", SAMPLE]):
        done = run_cli(args, env)
        assert done.returncode == 0, done.stderr
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    address = f"reader{width}@example.com"

    page.goto(f"{server.url}/news")
    assert page.locator("header.site").inner_text().startswith("Daily Courier")
    fits(page, width, "public-news")
    page.click("text=A quarter of a century together: CSTO celebrates anniversary")
    assert page.locator("aside.cta h2").inner_text() == "Get the news by email"
    fits(page, width, "public-article")
    page.fill("#cta-email", address)
    page.click("aside.cta button")
    assert page.url.startswith(f"{server.url}/subscribe?email=")
    assert page.input_value("#email") == address
    assert page.locator("label.choice").count() == 1  # the private list is not offered
    assert "every morning before eight" in page.inner_text("label.choice")
    fits(page, width, "public-subscribe")
    page.fill("#email", "not an address")
    page.check("input[name=lists][value=world]")
    page.click("form.stack button[type=submit]")
    assert "not an address" in page.inner_text("#email-error")
    assert page.is_checked("input[name=lists][value=world]")
    fits(page, width, "public-subscribe-error")
    page.fill("#email", address)
    page.click("form.stack button[type=submit]")
    assert page.inner_text("h1") == "Check your inbox"
    fits(page, width, "public-check-inbox")

    mail = mail_to(var_dir / "outbox", address)
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(rf"{re.escape(server.url)}/confirm/\S+", text)
    assert link is not None, text
    page.goto(link.group())
    assert page.inner_text("h1") == "Subscription confirmed"
    fits(page, width, "public-confirmed")
    page.click("text=Manage it")
    assert page.inner_text("h1") == "Your subscription"
    assert page.is_checked("input[name=lists]") and "Staff memo" not in page.inner_text("main")
    page.select_option("#language", label="Русский")
    page.click("form.stack button[type=submit]")
    # Saved in the language just chosen.
    assert page.inner_text("[role=status]") == "Сохранено."
    assert page.locator("#language option:checked").inner_text() == "Русский"
    assert page.get_attribute("html", "lang") == "ru"
    fits(page, width, "public-preferences")
    page.click("text=Отписаться от всего")
    assert page.inner_text("h1") == "Вы отписались"
    fits(page, width, "public-unsubscribed")

    page.goto(f"{server.url}/news/no-such-article")
    assert page.inner_text("h1") == "Page not found"
    fits(page, width, "public-404")
