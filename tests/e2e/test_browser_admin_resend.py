"""Issue 6's walk in real Chromium: sign in, open an edition with failed deliveries, resend them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import EXAMPLES, free_port, run_cli
from tests.e2e.browser import screenshot


class FlakySmtp:
    """An SMTP server that answers 451 to every recipient until `accepting` is set."""

    def __init__(self) -> None:
        self.accepting = False
        self.delivered: list[str] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if not self.accepting:
            return "451 4.3.0 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.delivered.extend(envelope.rcpt_tos)
        return "250 OK queued"


def test_admin_resends_failed_deliveries_and_sees_the_counts_change(
    embedded_env: dict[str, str], tmp_path: Path, serve: Any, browser_page: Any
) -> None:
    smtp = FlakySmtp()
    port = free_port()
    controller = Controller(smtp, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        env = embedded_env | {"SMTP_URL": f"smtp://127.0.0.1:{port}", "MAIL_MAX_ATTEMPTS": "1",
                              "DIGEST_HOUR": "24"}
        server = serve(env)
        env |= {"BASE_URL": server.url}
        csv_path = tmp_path / "readers.csv"
        csv_path.write_text("email,name,language\nann@example.org,Ann,en\nboris@example.org,Boris,ru\n"
                            "chen@example.org,Chen,en\n")
        for args in (["lists", "create", "news", "--name", "News", "--frequency", "daily"],
                     ["subscribers", "import", str(csv_path), "--list", "news", "--confirmed"],
                     ["articles", "import", str(EXAMPLES / "csto-anniversary.txt")]):
            done = run_cli(args, env)
            assert done.returncode == 0, done.stderr
        sent = run_cli(["digest", "send", "--list", "news", "--wait"], env)
        assert sent.returncode == 0, sent.stderr
        summary = sent.stdout.strip().splitlines()[-1]
        edition_id = re.match(r"edition=(\d+) ", summary)
        assert edition_id and summary.endswith("sent=0 failed=3 bounced=0 skipped=0"), summary

        smtp.accepting = True  # the mail server recovers
        page = browser_page
        token = (Path(env["VAR_DIR"]) / "admin_token").read_text().strip()
        page.goto(f"{server.url}/admin")
        page.fill("input[name=token]", token)
        page.click("button[type=submit]")
        page.click("nav >> text=Editions")
        page.click(f"a[href='/admin/editions/{edition_id.group(1)}'] >> nth=0")
        assert page.inner_text("td[data-state=failed]") == "3"
        assert page.locator("text=451 4.3.0 mailbox busy, try later").count() == 3
        screenshot(page, "admin-edition-failed")

        page.click("button:has-text('Resend failed')")
        assert page.inner_text("[role=status]") == "3 deliveries queued again."
        # The embedded worker started by `serve` sends them; reload until the ledger says so.
        for _ in range(120):
            if page.inner_text("td[data-state=sent]") == "3":
                break
            page.wait_for_timeout(500)
            page.reload()
        assert page.inner_text("td[data-state=sent]") == "3"
        assert page.inner_text("td[data-state=failed]") == "0"
        assert sorted(smtp.delivered) == ["ann@example.org", "boris@example.org", "chen@example.org"]
        screenshot(page, "admin-edition-resent")
    finally:
        controller.stop()
