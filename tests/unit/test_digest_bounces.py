"""Bounce and complaint reports applied on the fake ledger: who is suppressed, what is ignored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syndicate.digests.bounces import BounceReports, ReportOutcome
from syndicate.digests.msgids import delivery_message_id
from syndicate.digests.ports import NewEdition
from syndicate.digests.states import DeliveryState, Frequency, SubscriberStatus
from tests.unit.fakes.digests import FakeBounceStore, FakeDigestDb, FakeEditionStore
from tests.unit.test_mail_report_parser import report_file

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
KEY, DOMAIN = "bounce-secret-0123456789", "news.example.com"


class Sent:
    """An edition whose deliveries to ann and bob were sent; each one's Message-ID."""

    def __init__(self) -> None:
        self.db = FakeDigestDb()
        lst = self.db.add_list()
        for email in ("ann@example.org", "bob@example.org"):
            self.db.add_reader(email, lst)
        article = self.db.add_article("Story", NOW - timedelta(hours=1))
        edition_id = FakeEditionStore(self.db).add(
            NewEdition(lst.id, Frequency.DAILY, None, NOW - timedelta(days=1), NOW, (article.id,), "s"),
            lst, now=NOW)
        assert edition_id is not None
        self.edition_id = edition_id
        self.ids: dict[str, str] = {}
        for row in self.db.deliveries.values():
            row.state, row.attempts, row.last_reply = DeliveryState.SENT, 1, "250 ok"
            email = self.db.subscribers[row.subscriber_id].email
            self.ids[email] = delivery_message_id(KEY, DOMAIN, edition_id, row.id, 1)
        self.reports = BounceReports(FakeBounceStore(self.db), KEY, DOMAIN, lambda: NOW)

    def state(self, email: str) -> tuple[SubscriberStatus, DeliveryState]:
        reader = self.db.by_email(email)
        row = next(d for d in self.db.deliveries.values() if d.subscriber_id == reader.id)
        return reader.status, row.state


@pytest.fixture
def sent() -> Sent:
    return Sent()


def test_a_bounce_report_bounces_the_delivery_and_suppresses_the_reader(sent: Sent) -> None:
    data = report_file("postfix-bounce.eml", "ann@example.org", sent.ids["ann@example.org"])
    (applied,) = sent.reports.apply_message(data)
    assert (applied.outcome, applied.email, applied.edition_id) == ("bounced", "ann@example.org",
                                                                    sent.edition_id)
    assert applied.line().startswith(f"bounced ann@example.org edition={sent.edition_id} delivery=")
    assert sent.state("ann@example.org") == (SubscriberStatus.BOUNCED, DeliveryState.BOUNCED)
    assert sent.state("bob@example.org") == (SubscriberStatus.ACTIVE, DeliveryState.SENT)
    # The same report again changes nothing more.
    assert sent.reports.apply_message(data)[0].outcome == ReportOutcome.BOUNCED
    assert sent.state("ann@example.org") == (SubscriberStatus.BOUNCED, DeliveryState.BOUNCED)


def test_a_complaint_suppresses_the_reader_and_keeps_the_delivery_sent(sent: Sent) -> None:
    data = report_file("arf-complaint.eml", "bob@example.org", sent.ids["bob@example.org"])
    (applied,) = sent.reports.apply_message(data)
    assert (applied.outcome, applied.detail) == ("complained", "abuse")
    assert sent.state("bob@example.org") == (SubscriberStatus.COMPLAINED, DeliveryState.SENT)
    reason = sent.db.by_email("bob@example.org").status_reason
    assert reason == "complaint (abuse) from the mailbox provider"


def test_reports_that_do_not_match_a_delivery_of_ours_change_nothing(sent: Sent) -> None:
    ann = sent.ids["ann@example.org"]
    tampered = ann.replace(f"<{sent.edition_id}.", f"<{sent.edition_id + 1}.")  # right shape, wrong tag
    cases = {
        "names no message of ours": report_file("postfix-bounce.eml", "ann@example.org", tampered),
        "the report is about carl@example.org": report_file("postfix-bounce.eml", "carl@example.org", ann),
        "a delay, not a failure": report_file("gmail-delay.eml", "ann@example.org", ann),
        "not a delivery status notification": report_file("auto-reply.eml", "ann@example.org", ann),
    }
    for reason, data in cases.items():
        (applied,) = sent.reports.apply_message(data)
        assert applied.outcome == ReportOutcome.IGNORED and reason in applied.detail, applied
    assert sent.state("ann@example.org") == (SubscriberStatus.ACTIVE, DeliveryState.SENT)


def test_a_report_on_a_deleted_delivery_is_ignored(sent: Sent) -> None:
    ann = sent.ids["ann@example.org"]
    sent.db.deliveries.clear()
    (applied,) = sent.reports.apply_message(report_file("gmail-bounce.eml", "ann@example.org", ann))
    assert applied.outcome == ReportOutcome.IGNORED and "no longer exists" in applied.detail
