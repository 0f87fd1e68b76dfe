"""Bounce and complaint reports applied to a real edition's ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from syndicate.storage import delivery_ledger as ledger
from syndicate.storage.digest_models import DeliveryRow, EditionRow, SubscriberRow
from syndicate.web.app import create_app
from tests.integration.digest_helpers import SmtpSink, add_active, make_list, publish_sample
from tests.unit.test_mail_report_parser import report_file

pytest_plugins = ["tests.integration.conftest_digests"]
READERS = ["ann@example.org", "bob@example.org", "carl@example.org"]


@pytest.fixture(params=["sqlite", "postgresql"])
def sent_edition(request: pytest.FixtureRequest, make_container: Callable[..., Any],
                 smtp_sink: SmtpSink) -> tuple[Any, int, dict[str, str]]:
    """A container, an edition mailed to three readers, and each reader's Message-ID."""
    options: dict[str, Any] = {"smtp_url": smtp_sink.url, "base_url": "https://news.example.com"}
    if request.param == "postgresql":
        options["database_url"] = request.getfixturevalue("pg_url")
    container = make_container(**options)
    add_active(container, make_list(container), READERS)
    publish_sample(container)
    edition_id = container.digests.send_now("world")
    assert edition_id is not None
    container.digests.send_batch(edition_id, 0, 2**62)
    ids = {m["To"]: m["Message-ID"] for m in smtp_sink.messages()}
    assert sorted(ids) == READERS
    return container, edition_id, ids


def states(container: Any) -> dict[str, tuple[str, str]]:
    """Each reader's (subscriber status, delivery state)."""
    with container.session_factory() as session:
        rows = session.execute(select(SubscriberRow.email, SubscriberRow.status, DeliveryRow.state).join(
            DeliveryRow, DeliveryRow.subscriber_id == SubscriberRow.id))
        return {email: (status, state) for email, status, state in rows}


def test_a_bounce_report_bounces_the_delivery_and_suppresses_the_reader(sent_edition: Any) -> None:
    container, edition_id, ids = sent_edition
    with container.session_factory() as session:  # the settled edition's counts get stored
        assert ledger.counts_many(session, [edition_id])[edition_id]["sent"] == 3
    (applied,) = container.bounce_reports.apply_message(report_file("postfix-bounce.eml", "ann@example.org",
                                                              ids["ann@example.org"]))
    assert (applied.outcome, applied.email, applied.edition_id) == ("bounced", "ann@example.org", edition_id)
    assert applied.detail.startswith("5.1.1 smtp; 550 5.1.1")
    assert states(container)["ann@example.org"] == ("bounced", "bounced")
    with container.session_factory() as session:
        assert session.get(EditionRow, edition_id).settled_counts is None  # type: ignore[union-attr]
        counts = ledger.counts_many(session, [edition_id])[edition_id]
        reply = session.scalar(select(DeliveryRow.last_reply).where(DeliveryRow.id == applied.delivery_id))
    assert (counts["sent"], counts["bounced"]) == (2, 1)
    assert reply is not None and reply.startswith("bounce report: 5.1.1")
    # The same report again changes nothing; the reader gets no further edition.
    repeat = report_file("gmail-bounce.eml", "ann@example.org", ids["ann@example.org"])
    assert container.bounce_reports.apply_message(repeat)[0].outcome == "bounced"
    assert states(container)["ann@example.org"] == ("bounced", "bounced")
    publish_sample(container)
    again = container.digests.send_now("world")
    assert again is not None
    with container.session_factory() as session:
        assert session.scalar(select(SubscriberRow.email).join(
            DeliveryRow, DeliveryRow.subscriber_id == SubscriberRow.id).where(
            DeliveryRow.edition_id == again, SubscriberRow.email == "ann@example.org")) is None


def test_a_complaint_suppresses_the_reader_and_keeps_the_delivery_sent(sent_edition: Any) -> None:
    container, _, ids = sent_edition
    (applied,) = container.bounce_reports.apply_message(report_file("arf-complaint.eml", "bob@example.org",
                                                              ids["bob@example.org"]))
    assert (applied.outcome, applied.email, applied.detail) == ("complained", "bob@example.org", "abuse")
    assert states(container)["bob@example.org"] == ("complained", "sent")


def test_reports_that_do_not_match_a_delivery_of_ours_change_nothing(sent_edition: Any) -> None:
    container, edition_id, ids = sent_edition
    before = states(container)
    ann = ids["ann@example.org"]
    tampered = ann.replace(f"<{edition_id}.", f"<{edition_id + 1}.")  # right shape, wrong tag
    cases = {
        "names no message of ours": report_file("postfix-bounce.eml", "ann@example.org", tampered),
        "the report is about carl@example.org": report_file("postfix-bounce.eml", "carl@example.org", ann),
        "a delay, not a failure": report_file("gmail-delay.eml", "ann@example.org", ann),
        "not a delivery status notification": report_file("auto-reply.eml", "ann@example.org", ann),
    }
    for reason, data in cases.items():
        (applied,) = container.bounce_reports.apply_message(data)
        assert applied.outcome == "ignored" and reason in applied.detail, applied
    assert states(container) == before


def test_reports_come_in_through_the_admin_api(sent_edition: Any) -> None:
    container, edition_id, ids = sent_edition
    client = TestClient(create_app(container))
    data = report_file("gmail-bounce.eml", "carl@example.org", ids["carl@example.org"])
    assert client.post("/api/mail/reports", content=data).status_code == 401
    headers = {"Authorization": f"Bearer {container.settings.resolved_admin_token}",
               "Content-Type": "message/rfc822"}
    response = client.post("/api/mail/reports", content=data, headers=headers)
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert (result["outcome"], result["email"]) == ("bounced", "carl@example.org")
    assert result["edition_id"] == edition_id
    huge = client.post("/api/mail/reports", content=b"x" * (2 * 1024 * 1024 + 1), headers=headers)
    assert huge.status_code == 413
    assert states(container)["carl@example.org"] == ("bounced", "bounced")
