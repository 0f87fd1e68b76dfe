"""What a reader and an admin see in real headless Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLES, run_cli
from tests.e2e.browser import screenshot

SAMPLE = str(EXAMPLES / "csto-anniversary.txt")


def test_reader_sees_the_clean_sample_article(
    embedded_env: dict[str, str], serve: Any, browser_page: Any
) -> None:
    server = serve(embedded_env)
    env = embedded_env | {"BASE_URL": server.url}
    assert run_cli(["articles", "import", SAMPLE], env).returncode == 0
    page = browser_page
    page.goto(f"{server.url}/news")
    page.click("text=A quarter of a century together: CSTO celebrates anniversary")
    assert page.url == f"{server.url}/news/csto-anniversary"
    assert page.inner_text("h1") == "A quarter of a century together: CSTO celebrates anniversary"
    assert page.get_attribute("html", "lang") == "en"
    body = page.inner_text("article")
    for trace in ("ZVF_", ".JPG", "Go back", "Back to the all news"):
        assert trace not in body
    assert page.locator("article .body p").count() == 10
    labels = page.eval_on_selector_all("article figure", "els => els.map(e => e.getAttribute('aria-label'))")
    assert labels == [f"A quarter of a century together: CSTO celebrates anniversary (photo {n})"
                      for n in range(1, 5)]
    screenshot(page, "reader-article")


def test_admin_signs_in_with_the_printed_token(
    embedded_env: dict[str, str], var_dir: Path, serve: Any, browser_page: Any
) -> None:
    server = serve(embedded_env)
    assert run_cli(["articles", "import", SAMPLE], embedded_env | {"BASE_URL": server.url}).returncode == 0
    printed = [line for line in server.log.read_text().splitlines() if line.startswith("Admin token: ")]
    token = printed[0].removeprefix("Admin token: ").strip()
    page = browser_page
    page.goto(f"{server.url}/admin")
    assert "/admin/login" in page.url
    page.fill("input[name=token]", "wrong-token-wrong-token")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "That is not the admin token."
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    assert page.url == f"{server.url}/admin"
    page.click("text=A quarter of a century together: CSTO celebrates anniversary")
    assert page.inner_text("h1") == "A quarter of a century together: CSTO celebrates anniversary"
    assert page.locator("text=article.published").count() >= 1
    screenshot(page, "admin-article")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["syndicate_admin"]["httpOnly"] is True
