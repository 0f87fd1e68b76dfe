"""The embedded outbox page shows the .eml files written instead of sending mail."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

from fastapi.testclient import TestClient

from syndicate.web.app import create_app
from tests.integration.test_admin_security import sign_in


def write_mail(folder: Any, name: str, subject: str) -> None:
    msg = EmailMessage()
    msg["From"] = "Newsroom <news@localhost>"
    msg["To"] = "reader@example.org"
    msg["Subject"] = subject
    msg.set_content("Plain text part")
    msg.add_alternative("<p>HTML <b>part</b><script>alert(1)</script></p>", subtype="html")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(msg.as_bytes(policy=SMTP))


def test_outbox_lists_and_shows_messages(container: Any) -> None:
    folder = container.settings.var_dir / "outbox"
    write_mail(folder, "a1.eml", "Weekly digest <1>")
    client = TestClient(create_app(container), follow_redirects=False)
    sign_in(client)
    listing = client.get("/admin/outbox")
    assert listing.status_code == 200
    assert "Weekly digest &lt;1&gt;" in listing.text and "reader@example.org" in listing.text
    page = client.get("/admin/outbox/a1.eml")
    assert "Plain text part" in page.text
    assert re.search(r'<iframe class="preview" sandbox src="/admin/outbox/a1.eml/html"', page.text)
    html = client.get("/admin/outbox/a1.eml/html")
    assert html.headers["content-security-policy"].startswith("sandbox;")
    assert "<b>part</b>" in html.text
    raw = client.get("/admin/outbox/a1.eml/raw")
    assert raw.content.startswith(b"From: Newsroom") or b"Subject: Weekly digest <1>" in raw.content


def test_outbox_refuses_paths_outside_its_folder(container: Any) -> None:
    (container.settings.var_dir / "secret.eml").write_text("Subject: nope\r\n\r\nsecret")
    client = TestClient(create_app(container), follow_redirects=False)
    sign_in(client)
    for name in ("..%2Fsecret.eml", "secret", "%2E%2E%2Fsecret.eml", "..%2Fsecret.eml/raw"):
        response = client.get(f"/admin/outbox/{name}")
        assert response.status_code == 404 and "secret" not in response.text.replace(name, "")
