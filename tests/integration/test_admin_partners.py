"""An admin manages partners from the browser: add (secret shown once), edit filters and embargo notices,
disable (confirmed first) and enable, rotate the secret; every POST needs the CSRF token."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from syndicate.partners.ports import PartnerInput
from syndicate.web.app import create_app
from tests.integration.test_admin_lists import csrf
from tests.integration.test_admin_security import sign_in


def test_admin_adds_edits_disables_and_rotates_a_partner(make_container: Any) -> None:
    container, client = _admin(make_container)
    token = csrf(client.get("/admin/partners").text)
    added = client.post("/admin/partners", data={
        "name": "Agency", "url": "http://127.0.0.1:9/hook", "categories": "World, Sport",
        "language": "ru", "csrf_token": token})
    assert added.status_code == 200 and "Partner Agency added" in added.text
    secret = re.search(r"<pre><code>(whsec_[A-Za-z0-9+/=]+)</code></pre>", added.text)
    assert secret is not None
    (overview,) = container.partner_reads.partners()
    partner = overview.partner
    assert (partner.name, partner.categories, partner.language) == ("Agency", ("world", "sport"), "ru")
    page = client.get(f"/admin/partners/{partner.id}").text
    assert secret.group(1) not in page and secret.group(1) not in client.get("/admin/partners").text
    bad = client.post("/admin/partners", data={"name": "Bad", "url": "ftp://x.example/", "csrf_token": token})
    assert bad.status_code == 422 and "refused" in bad.text and 'value="ftp://x.example/"' in bad.text
    forged = client.post("/admin/partners", data={"name": "Forged", "url": "http://127.0.0.1:9/x"})
    assert forged.status_code == 403 and len(container.partner_reads.partners()) == 1

    forged_edit = client.post(f"/admin/partners/{partner.id}", data={"name": "Eve", "url": "http://127.0.0.1:9/e"})
    assert forged_edit.status_code == 403
    edited = client.post(f"/admin/partners/{partner.id}", data={
        "name": "Agency", "url": "http://127.0.0.1:9/hook2", "categories": "", "language": "",
        "rate_limit_per_minute": "30", "csrf_token": token})
    assert edited.status_code == 200 and "Changes saved." in edited.text
    partner = container.partner_reads.partner(partner.id).partner
    assert (partner.url, partner.categories, partner.language, partner.rate_limit_per_minute) == (
        "http://127.0.0.1:9/hook2", (), None, 30)
    # A client that sends only some fields changes only those: the filters and limit stay.
    container.partner_registry.edit(partner.id, PartnerInput(categories=["world"], language="ru"))
    resaved = client.post(f"/admin/partners/{partner.id}", data={
        "name": "Agency", "url": "http://127.0.0.1:9/hook2", "csrf_token": token})
    assert resaved.status_code == 200 and "Changes saved." in resaved.text
    partner = container.partner_reads.partner(partner.id).partner
    assert (partner.categories, partner.language, partner.rate_limit_per_minute) == (("world",), "ru", 30)

    asked = client.post(f"/admin/partners/{partner.id}/active", data={"active": "false", "csrf_token": token})
    assert "Disable Agency?" in asked.text and container.partner_reads.partner(partner.id).partner.active
    no_csrf = client.post(f"/admin/partners/{partner.id}/active", data={"active": "false", "confirm": "yes"})
    assert no_csrf.status_code == 403 and container.partner_reads.partner(partner.id).partner.active
    disabled = client.post(f"/admin/partners/{partner.id}/active",
                           data={"active": "false", "confirm": "yes", "csrf_token": token})
    assert "Disabled: nothing is pushed" in disabled.text
    assert not container.partner_reads.partner(partner.id).partner.active
    no_csrf_enable = client.post(f"/admin/partners/{partner.id}/active", data={"active": "true"})
    assert no_csrf_enable.status_code == 403
    assert not container.partner_reads.partner(partner.id).partner.active
    enabled = client.post(f"/admin/partners/{partner.id}/active",
                          data={"active": "true", "csrf_token": token})
    assert "Enabled" in enabled.text and container.partner_reads.partner(partner.id).partner.active

    asked = client.post(f"/admin/partners/{partner.id}/rotate-secret", data={"csrf_token": token})
    assert "Rotate the signing secret?" in asked.text
    before = container.partner_reads.partner(partner.id).partner.previous_secret_until
    forged_rotate = client.post(f"/admin/partners/{partner.id}/rotate-secret", data={"confirm": "yes"})
    assert forged_rotate.status_code == 403
    assert container.partner_reads.partner(partner.id).partner.previous_secret_until == before
    rotated = client.post(f"/admin/partners/{partner.id}/rotate-secret",
                          data={"csrf_token": token, "confirm": "yes"})
    new_secret = re.search(r"<pre><code>(whsec_[A-Za-z0-9+/=]+)</code></pre>", rotated.text)
    assert new_secret is not None and new_secret.group(1) != secret.group(1)
    assert "The previous secret keeps signing alongside until" in rotated.text
    assert container.partner_reads.partner(partner.id).partner.previous_secret_until is not None


CHECKED = 'name="embargoed" value="true" checked'


def _admin(make_container: Any) -> tuple[Any, TestClient]:
    """A container that accepts loopback partner URLs, and a client signed in to its admin."""
    container = make_container(partner_allow_private=True)
    client = TestClient(create_app(container), headers={"Accept": "text/html"})
    sign_in(client)
    return container, client


def test_admin_adds_a_partner_with_embargo_notices_and_a_rate_limit(make_container: Any) -> None:
    container, client = _admin(make_container)
    token = csrf(client.get("/admin/partners").text)
    bad = client.post("/admin/partners", data={
        "name": "Bad", "url": "ftp://x.example/", "embargoed": "true", "rate_limit_per_minute": "12",
        "csrf_token": token})
    assert bad.status_code == 422 and CHECKED in bad.text
    assert 'name="rate_limit_per_minute" size="8" value="12"' in bad.text  # kept as typed
    added = client.post("/admin/partners", data={
        "name": "Agency", "url": "http://127.0.0.1:9/hook", "embargoed": "true",
        "rate_limit_per_minute": "12", "csrf_token": token})
    assert added.status_code == 200 and "Partner Agency added" in added.text
    (overview,) = container.partner_reads.partners()
    assert overview.partner.embargoed and overview.partner.rate_limit_per_minute == 12
    assert "all categories · embargo notices" in client.get("/admin/partners").text
    page = client.get(f"/admin/partners/{overview.partner.id}").text
    assert "filters: all categories · embargo notices" in page and CHECKED in page


@pytest.mark.parametrize("before", [True, False])
def test_the_edit_form_box_turns_embargo_notices_on_and_off(make_container: Any, before: bool) -> None:
    # An unchecked box sends nothing: its absence turns the notices off.
    container, client = _admin(make_container)
    partner, _ = container.partner_registry.add(
        PartnerInput(name="Agency", url="http://127.0.0.1:9/hook", embargoed=before))
    token = csrf(client.get(f"/admin/partners/{partner.id}").text)
    form = {"name": "Agency", "url": "http://127.0.0.1:9/hook", "csrf_token": token}
    checked = {} if before else {"embargoed": "true"}
    edited = client.post(f"/admin/partners/{partner.id}", data=form | checked)
    assert edited.status_code == 200 and "Changes saved." in edited.text
    assert container.partner_reads.partner(partner.id).partner.embargoed is not before
    assert ("embargo notices" in edited.text) is not before and (CHECKED in edited.text) is not before
