"""The admin half of issue 11's walk in real Chromium, at 1280 px and 390 px: create a list, import
a CSV with bad rows, send a test and then the edition, watch the progress move without reloading,
add a partner (its secret shown once) and disable it. Nothing scrolls sideways on the phone."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import EXAMPLES, free_port, run_cli
from tests.e2e.browser import screenshot
from tests.e2e.test_browser_layout import no_sideways_scroll, sign_in


class GatedSmtp:
    """An SMTP server that holds every message at DATA until `gate` is set."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        while not self.gate.is_set():
            await asyncio.sleep(0.05)
        self.received.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK queued"


@pytest.mark.parametrize("width", [1280, 390])
def test_admin_walk(width: int, embedded_env: dict[str, str], tmp_path: Path, serve: Any,
                    browser_page: Any) -> None:
    smtp = GatedSmtp()
    port = free_port()
    controller = Controller(smtp, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        env = embedded_env | {"SMTP_URL": f"smtp://127.0.0.1:{port}", "DIGEST_HOUR": "24",
                              "PARTNER_ALLOW_PRIVATE": "true"}
        server = serve(env)
        done = run_cli(["articles", "import", str(EXAMPLES / "csto-anniversary.txt")],
                       env | {"BASE_URL": server.url})
        assert done.returncode == 0, done.stderr
        page = browser_page
        page.set_viewport_size({"width": width, "height": 900})
        sign_in(page, server)
        shot = f"admin-walk-{width}"

        def check(step: str) -> None:
            if width <= 400:
                no_sideways_scroll(page)
            screenshot(page, f"{shot}-{step}")

        # A list, from the lists page.
        page.goto(f"{server.url}/admin/lists")
        page.fill("input[name=slug]", "news")
        page.fill("input[name=name]", "News")
        page.click("button:has-text('Create list')")
        assert page.inner_text("[role=status]") == "List 'news' created."
        check("list-created")

        # A CSV with one bad row, imported with a per-row report.
        csv_path = tmp_path / "readers.csv"
        csv_path.write_text("email,name,language\nann@example.org,Ann,en\nnot-an-address,X,en\n"
                            "boris@example.org,Борис,ru\n")
        page.goto(f"{server.url}/admin/subscribers")
        page.click("text=Import a CSV…")
        check("import-form")
        page.set_input_files("input[name=file]", str(csv_path))
        page.check("input[name=confirmed]")
        page.click("button:has-text('Import')")
        page.wait_for_selector("#import-summary")
        assert page.inner_text("#import-summary") == "2 new, 0 already known, 1 bad row (of 3)."
        assert "line 3: email 'not-an-address' is not an address" in page.inner_text("#import-errors")
        check("import-report")
        page.goto(f"{server.url}/admin/subscribers?q=boris")
        page.click("text=boris@example.org")
        assert page.inner_text("h1") == "boris@example.org"
        check("subscriber")
        page.click("button:has-text('Erase (GDPR request)…')")
        assert page.inner_text("h1") == "Erase boris@example.org?"
        check("erase-confirm")
        page.click("text=Cancel")  # a person changes their mind: nothing was erased
        assert page.inner_text("h1") == "boris@example.org"

        # A test to one address first: nothing is recorded, one message arrives.
        smtp.gate.set()
        page.goto(f"{server.url}/admin/editions")
        page.fill("form[action='/admin/editions/test'] input[name=email]", "editor@example.org")
        page.click("button:has-text('Send test')")
        assert page.inner_text("[role=status]").startswith("Test sent to editor@example.org")
        assert [r for r, _ in smtp.received] == [["editor@example.org"]]
        assert b"Subject: [Test]" in smtp.received[0][1] or b"[Test]" in smtp.received[0][1]
        check("test-sent")

        # Then the edition, confirmed, with the progress moving while the page stays open.
        smtp.gate.clear()
        page.click("button:has-text('Send now…')")
        assert page.inner_text("h1") == "Send News now?"
        check("send-confirm")
        page.click("button:has-text('Yes, send now')")
        status = page.locator("[data-progress-text]")
        assert status.inner_text().startswith("Sending…")
        check("sending")
        smtp.gate.set()
        # No reload: the page's script polls the progress endpoint (evaluating test code in the page
        # would be refused by the admin CSP, so the wait is a text locator).
        page.locator("[data-progress-text]", has_text="Finished: 2 of 2 final.").wait_for(timeout=60_000)
        assert page.inner_text("[data-count=sent]") == "2"
        assert sorted(r[0] for r, _ in smtp.received[1:]) == ["ann@example.org", "boris@example.org"]
        check("sent")

        # A partner: added with the secret shown once, then disabled after confirmation.
        page.goto(f"{server.url}/admin/partners")
        page.fill("#add input[name=name]", "Agency")
        page.fill("#add input[name=url]", f"http://127.0.0.1:{free_port()}/hook")
        page.click("button:has-text('Add partner')")
        secret = page.inner_text("#new-secret pre")
        assert secret.startswith("whsec_")
        check("partner-added")
        page.click("#new-secret >> text=Open Agency →")
        assert secret not in page.content()
        page.click("button:has-text('Disable…')")
        assert page.inner_text("h1") == "Disable Agency?"
        page.click("button:has-text('Yes, disable')")
        assert page.inner_text("[role=status]") == "Disabled: nothing is pushed until it is enabled again."
        assert page.locator(".badge:has-text('disabled')").count() >= 1
        check("partner-disabled")

        for path in ("/admin", "/admin/articles", "/admin/subscribers", "/admin/failures"):
            page.goto(f"{server.url}{path}")
            check(path.strip("/").replace("/", "-") or "overview")
    finally:
        controller.stop()
