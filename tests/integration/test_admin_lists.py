"""An admin creates lists from the browser (CSRF-checked, through the use case) and copies the
sign-up snippet for public lists."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi.testclient import TestClient

from syndicate.digests import subscribers as subs
from syndicate.web.app import create_app
from tests.integration.test_admin_security import sign_in


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_admin_creates_lists_and_gets_the_sign_up_snippet(container: Any) -> None:
    client = TestClient(create_app(container), headers={"Accept": "text/html"})
    assert sign_in(client).status_code == 200
    page = client.get("/admin/lists")
    assert page.status_code == 200 and "No lists yet." in page.text
    token = csrf(page.text)
    form = {"slug": "world", "name": "World & Co", "frequency": "daily", "visibility": "public",
            "description": "The day's events abroad.", "csrf_token": token}
    created = client.post("/admin/lists", data=form)
    assert created.status_code == 200 and "List &#39;world&#39; created." in created.text
    client.post("/admin/lists", data=form | {"slug": "staff", "name": "Staff", "visibility": "private"})
    lists = {lst.slug: lst for lst in subs.all_lists(container.digest_uow)}
    assert lists["world"].is_public and lists["world"].description == "The day's events abroad."
    assert not lists["staff"].is_public
    page = client.get("/admin/lists")
    snippet = re.search(r'<pre id="snippet">(.*?)</pre>', page.text, re.S)
    assert snippet is not None
    source = html.unescape(snippet.group(1))
    assert f'<form method="post" action="{container.settings.base_url}/subscribe">' in source
    assert '<input type="checkbox" name="lists" value="world" checked> World &amp; Co' in source
    assert "staff" not in source
    taken = client.post("/admin/lists", data=form)
    assert taken.status_code == 422 and "&#39;world&#39; is already taken" in taken.text
    assert 'value="World &amp; Co"' in taken.text  # the form comes back as typed
    forged = client.post("/admin/lists", data=form | {"slug": "other", "csrf_token": "forged"})
    assert forged.status_code == 403
    assert "other" not in {lst.slug for lst in subs.all_lists(container.digest_uow)}
