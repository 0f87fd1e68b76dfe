"""One look, responsive: every admin page at 1280 px and 390 px in real Chromium, the navigation
folding behind "Menu" on the phone, nothing scrolling sideways, and /docs working with no CDN."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, run_cli
from tests.e2e.browser import screenshot

ADMIN_PAGES = {"admin-overview": "/admin", "admin-articles": "/admin/articles",
               "admin-editions": "/admin/editions", "admin-subscribers": "/admin/subscribers",
               "admin-partners": "/admin/partners", "admin-outbox": "/admin/outbox",
               "admin-lists": "/admin/lists"}


def sign_in(page: Any, server: Any) -> None:
    """Sign in with the token `serve` printed."""
    printed = [line for line in server.log.read_text().splitlines() if line.startswith("Admin token: ")]
    page.goto(f"{server.url}/admin/login")
    page.fill("input[name=token]", printed[0].removeprefix("Admin token: ").strip())
    page.click("button[type=submit]")
    assert page.url == f"{server.url}/admin"


def no_sideways_scroll(page: Any) -> None:
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"{page.url} scrolls sideways: {scroll} > {inner}"


@pytest.mark.parametrize("width", [1280, 390])
def test_admin_pages_fit_and_the_menu_folds_on_a_phone(
    width: int, embedded_env: dict[str, str], tmp_path: Path, serve: Any, browser_page: Any
) -> None:
    server = serve(embedded_env | {"DIGEST_HOUR": "24"})
    env = embedded_env | {"BASE_URL": server.url}
    readers = tmp_path / "readers.csv"
    readers.write_text("email,name,language\nann@example.org,Ann,en\nboris@example.org,Борис,ru\n")
    for args in (["lists", "create", "news", "--name", "News", "--frequency", "daily"],
                 ["subscribers", "import", str(readers), "--list", "news", "--confirmed"],
                 ["articles", "import", str(EXAMPLES / "csto-anniversary.txt")],
                 ["digest", "send", "--list", "news", "--wait"]):
        done = run_cli(args, env)
        assert done.returncode == 0, done.stderr
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, server)
    nav = page.locator("header.bar nav")
    if width <= 400:
        assert not nav.is_visible()
        page.click("text=Menu")
        assert nav.is_visible()
        page.click("header.bar nav >> text=Editions")
        assert page.url.endswith("/admin/editions") and not nav.is_visible()
    else:
        assert nav.is_visible() and not page.locator("text=Menu").is_visible()
    for name, path in ADMIN_PAGES.items():
        page.goto(f"{server.url}{path}")
        assert page.locator("h1").count() >= 1, path
        assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith("system-ui")
        no_sideways_scroll(page)
        screenshot(page, f"{name}-{width}")
    edition = re.search(r'href="(/admin/editions/\d+)"', page.goto(f"{server.url}/admin/editions").text())
    assert edition is not None
    page.goto(f"{server.url}{edition.group(1)}")
    no_sideways_scroll(page)
    screenshot(page, f"admin-edition-{width}")


def test_docs_work_with_no_request_leaving_the_server(
    embedded_env: dict[str, str], serve: Any, browser_page: Any
) -> None:
    server = serve(embedded_env)
    page = browser_page
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(f"{server.url}/docs")
    page.wait_for_selector(".swagger-ui .info h1.title")
    assert page.inner_text(".swagger-ui .info h1.title").startswith("syndicate")
    assert page.locator(".opblock-summary-path", has_text="/api/articles").count() >= 1
    screenshot(page, "docs-1280")
    leaving = [url for url in asked if not url.startswith((server.url, "data:", f"blob:{server.url}"))]
    assert leaving == []
    # ReDoc renders from the same local files (its footer logo alone comes from cdn.redoc.ly).
    page.goto(f"{server.url}/redoc")
    page.wait_for_selector("h1")
    assert "syndicate" in page.inner_text("h1")
