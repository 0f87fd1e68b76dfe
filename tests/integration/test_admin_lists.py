"""An admin creates lists from the browser (CSRF-checked, through the use case) and copies the
sign-up snippet for public lists."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
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


def test_admin_edits_a_list_and_archives_it_after_confirming(container: Any) -> None:
    client = TestClient(create_app(container), headers={"Accept": "text/html"})
    assert sign_in(client).status_code == 200
    token = csrf(client.get("/admin/lists").text)
    client.post("/admin/lists", data={"slug": "world", "name": "World", "frequency": "daily",
                                      "csrf_token": token})
    lst = subs.list_by_slug(container.digest_uow, "world")
    page = client.get(f"/admin/lists/{lst.id}")
    assert page.status_code == 200 and 'value="World"' in page.text

    edit = {"name": "World news", "frequency": "weekly", "language": "RU", "categories": "politics, Economy",
            "description": "Abroad.", "visibility": "private", "repeat_stories": "yes", "csrf_token": token}
    bad = client.post(f"/admin/lists/{lst.id}", data=edit | {"categories": "not a slug!"})
    assert bad.status_code == 422 and "is not a category slug" in bad.text
    assert 'value="World news"' in bad.text  # the form comes back as typed, nothing stored
    assert subs.list_by_slug(container.digest_uow, "world").name == "World"
    saved = client.post(f"/admin/lists/{lst.id}", data=edit)
    assert saved.status_code == 200 and "Saved." in saved.text
    changed = subs.list_by_slug(container.digest_uow, "world")
    assert (changed.name, changed.frequency, changed.language, changed.categories) == (
        "World news", "weekly", "ru", ("politics", "economy"))
    assert (changed.visibility, changed.repeat_stories) == ("private", True)
    # A client that sends only some fields changes only those: the list stays private.
    partial = client.post(f"/admin/lists/{lst.id}", data={
        "name": "World", "frequency": "weekly", "repeat_stories": "yes", "csrf_token": token})
    assert partial.status_code == 200 and "Saved." in partial.text
    kept = subs.list_by_slug(container.digest_uow, "world")
    assert (kept.name, kept.language, kept.categories, kept.description, kept.visibility) == (
        "World", "ru", ("politics", "economy"), "Abroad.", "private")
    assert client.post(f"/admin/lists/{lst.id}", data=edit | {"csrf_token": "forged"}).status_code == 403

    client.post(f"/admin/lists/{lst.id}", data=edit | {"visibility": "public"})
    asked = client.post(f"/admin/lists/{lst.id}/archive", data={"archived": "true", "csrf_token": token})
    assert asked.status_code == 200 and "Archive World news?" in asked.text
    assert not subs.list_by_slug(container.digest_uow, "world").archived  # nothing until confirmed
    done = client.post(f"/admin/lists/{lst.id}/archive",
                       data={"archived": "true", "confirm": "yes", "csrf_token": token})
    assert done.status_code == 200 and "Bring the list back" in done.text
    archived = subs.list_by_slug(container.digest_uow, "world")
    assert archived.archived and not archived.is_public
    assert "world" not in {x.slug for x in subs.public_lists(container.digest_uow)}
    assert "world" not in {x.slug for x in subs.sending_lists(container.digest_uow)}
    assert 'value="world"' not in client.get("/subscribe").text
    client.post(f"/admin/lists/{lst.id}/archive", data={"archived": "false", "csrf_token": token})
    assert subs.list_by_slug(container.digest_uow, "world").is_public


def test_an_archived_list_gets_no_editions(container: Any) -> None:
    from syndicate.errors import InvalidDigestInput
    from tests.integration.digest_helpers import add_active, make_list, publish_sample

    kept = make_list(container, "flash", frequency="instant")
    retired = make_list(container, "old-flash", frequency="instant")
    for n, lst in enumerate((kept, retired)):
        add_active(container, lst, [f"reader{n}@example.com"])
    subs.archive_list(container.digest_uow, retired.id)
    article = publish_sample(container)
    built = container.digests.instant_editions(article.id)
    assert [container.digest_reads.edition(e).list_id for e in built] == [kept.id]
    with pytest.raises(InvalidDigestInput, match="archived"):
        container.digests.send_now("old-flash")
