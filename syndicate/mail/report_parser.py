"""Reading the reports mail systems send back: bounces (RFC 3464) and complaints (RFC 5965).

Both arrive as `multipart/report` messages at the sender's address:
- a delivery status notification (`report-type=delivery-status`) has a `message/delivery-status`
  part with one block per recipient (`Final-Recipient`, `Action`, `Status`, `Diagnostic-Code`);
- an abuse feedback report (`report-type=feedback-report`, the ARF format mailbox providers use for
  "this is spam" clicks) has a `message/feedback-report` part (`Feedback-Type`, `Original-Rcpt-To`).

Each carries the original message, or only its headers, as a `message/rfc822` or
`text/rfc822-headers` part: that is where the original Message-ID is found. Anything else (an
auto-reply, a non-standard bounce) is not a report here; the caller ignores it.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from typing import Literal

BOUNCE: Literal["bounce"] = "bounce"
DELAY: Literal["delay"] = "delay"
COMPLAINT: Literal["complaint"] = "complaint"

_STATUS = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")


@dataclass(frozen=True)
class Report:
    """What one report says about one recipient of one original message."""

    kind: Literal["bounce", "delay", "complaint"]
    #: The recipient the report is about, lower-cased ('' when the report does not say).
    recipient: str
    #: The original message's Message-ID ('' when the report does not carry it).
    message_id: str
    #: A one-line account for the ledger: '5.1.1 smtp; 550 5.1.1 user unknown', 'abuse'.
    detail: str


def read_reports(data: bytes) -> list[Report]:
    """The reports in one message (one per failed or delayed recipient, or one complaint).

    An empty list means the message is not a delivery status notification or feedback report.
    """
    message = email.message_from_bytes(data, policy=email.policy.compat32)
    if message.get_content_type() != "multipart/report":
        return []
    report_type = str(message.get_param("report-type") or "").lower()
    parts = [p for p in message.walk() if p is not message]
    message_id = _original_message_id(parts)
    if report_type == "delivery-status":
        return _delivery_reports(parts, message_id)
    if report_type == "feedback-report":
        return _feedback_reports(parts, message_id)
    return []


def _fields(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    if isinstance(payload, str):  # some senders' parts are not parsed into blocks
        return [HeaderParser().parsestr(block.strip() + "\n") for block in re.split(r"\r?\n\r?\n", payload)
                if block.strip()]
    return []


def _original_message_id(parts: list[Message]) -> str:
    for part in parts:
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return _clean(inner[0].get("Message-ID", ""))
        elif kind == "text/rfc822-headers":
            text = part.get_payload(decode=True)
            if isinstance(text, bytes):
                headers = HeaderParser().parsestr(text.decode("utf-8", "replace"))
                return _clean(headers.get("Message-ID", ""))
    return ""


def _clean(value: str) -> str:
    return " ".join(str(value).split())


def _address(value: str) -> str:
    """'rfc822; Ann@Example.org' -> 'ann@example.org'."""
    _, _, address = str(value).partition(";")
    return (address or str(value)).strip().strip("<>").lower()


def _delivery_reports(parts: list[Message], message_id: str) -> list[Report]:
    reports: list[Report] = []
    for part in parts:
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _fields(part)[1:]:  # the first block is about the message, the rest per recipient
            action = _clean(block.get("Action", "")).lower()
            status = _STATUS.search(_clean(block.get("Status", "")))
            recipient = _address(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
            diagnostic = _clean(block.get("Diagnostic-Code", ""))
            code = status.group(0) if status else ""
            detail = f"{code} {diagnostic}".strip()
            if action == "failed" and code.startswith("5"):
                reports.append(Report(BOUNCE, recipient, message_id, detail))
            elif action == "delayed" or (action == "failed" and code.startswith("4")):
                reports.append(Report(DELAY, recipient, message_id, detail))
    return reports


def _feedback_reports(parts: list[Message], message_id: str) -> list[Report]:
    for part in parts:
        if part.get_content_type() != "message/feedback-report":
            continue
        for block in _fields(part):
            feedback = _clean(block.get("Feedback-Type", "")).lower()
            if feedback:
                recipient = _address(block.get("Original-Rcpt-To", ""))
                return [Report(COMPLAINT, recipient, message_id, feedback)]
    return []
