"""Bounce and complaint reports read as mail systems send them, and our tagged Message-IDs."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicate.digests.msgids import DeliveryRef, delivery_message_id, read_delivery_message_id
from syndicate.mail.report_parser import BOUNCE, COMPLAINT, DELAY, Report, read_reports

REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"
MID = "<3.12.1.abcdefghij@news.example.com>"
KEY = "secret-key-0123456789"


def report_file(name: str, recipient: str = "Ann@Example.org", message_id: str = MID) -> bytes:
    """A sample report with the recipient and original Message-ID filled in."""
    text = (REPORTS / name).read_text()
    return text.replace("{RECIPIENT}", recipient).replace("{MESSAGE_ID}", message_id).encode()


def test_a_postfix_bounce_names_recipient_status_and_original_message() -> None:
    (report,) = read_reports(report_file("postfix-bounce.eml"))
    assert report == Report(BOUNCE, "ann@example.org", MID,
                            "5.1.1 smtp; 550 5.1.1 <Ann@Example.org>: Recipient address rejected: "
                            "User unknown in virtual mailbox table")


def test_a_gmail_bounce_carries_the_original_as_a_message() -> None:
    (report,) = read_reports(report_file("gmail-bounce.eml"))
    assert (report.kind, report.recipient, report.message_id) == (BOUNCE, "ann@example.org", MID)
    assert report.detail.startswith("5.1.1 smtp; 550-5.1.1 The email account")


def test_a_delay_is_not_a_bounce() -> None:
    (report,) = read_reports(report_file("gmail-delay.eml"))
    assert (report.kind, report.detail) == (DELAY, "4.4.7 smtp; 421 4.4.7 Mailbox temporarily over quota")


def test_an_abuse_feedback_report_is_a_complaint() -> None:
    assert read_reports(report_file("arf-complaint.eml")) == [
        Report(COMPLAINT, "ann@example.org", MID, "abuse")]


def test_an_auto_reply_or_garbage_is_no_report() -> None:
    assert read_reports(report_file("auto-reply.eml")) == []
    assert read_reports(b"\x00\xff not mail at all") == []


def test_message_ids_name_the_delivery_and_only_we_can_make_them() -> None:
    made = delivery_message_id(KEY, "news.example.com", 3, 12, 1)
    assert made.startswith("<3.12.1.") and made.endswith("@news.example.com>")
    assert read_delivery_message_id(KEY, "NEWS.example.com", made) == DeliveryRef(3, 12, 1)
    forged = made.replace("<3.12.1.", "<3.13.1.")  # somebody else's delivery, same tag
    for value in (forged, made.replace("news.example.com", "evil.example"), "<3.12.1@news.example.com>", ""):
        assert read_delivery_message_id(KEY, "news.example.com", value) is None
    assert read_delivery_message_id("another-secret-key-000", "news.example.com", made) is None


@pytest.mark.parametrize("name", ["postfix-bounce.eml", "gmail-bounce.eml", "arf-complaint.eml"])
def test_reports_without_the_original_message_id_say_so(name: str) -> None:
    data = report_file(name).replace(f"Message-ID: {MID}".encode(), b"X-Nothing: here")
    data = data.replace(f"X-Original-Message-ID: {MID}".encode(), b"X-Nothing: here")
    assert [r.message_id for r in read_reports(data)] == [""]
