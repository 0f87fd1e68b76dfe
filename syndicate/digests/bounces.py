"""Bounce and complaint reports applied to the ledger and to subscribers.

A report counts only when it names, by Message-ID, a delivery we sent (the Message-ID carries a
tag only we can make, see `msgids`) and, when it names a recipient, that delivery's address:
anybody can mail the bounce address, and a forged report must not suppress a reader.

- A bounce (permanent failure, 5.x.x) turns the delivery from `sent` to `bounced` and suppresses
  the subscriber (status `bounced`), as a 5xx during sending does.
- A complaint ("this is spam") marks the subscriber `complained`: no more mail of any list. The
  delivery stays `sent` (it was delivered); its last reply records the complaint.
- Delays and anything that is not a report change nothing.

Applying the same report twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from syndicate.digests.msgids import read_delivery_message_id
from syndicate.digests.ports import BounceStore
from syndicate.mail.report_parser import BOUNCE, COMPLAINT, Report, read_reports


class ReportOutcome(StrEnum):
    """What applying one report did."""

    BOUNCED = "bounced"
    COMPLAINED = "complained"
    IGNORED = "ignored"


@dataclass(frozen=True)
class Applied:
    """What one report did: its outcome, and why."""

    outcome: ReportOutcome
    email: str = ""
    edition_id: int | None = None
    delivery_id: int | None = None
    detail: str = ""

    def line(self) -> str:
        """'bounced ann@example.org edition=3 delivery=12 5.1.1 …' for the CLI."""
        where = f" edition={self.edition_id} delivery={self.delivery_id}" if self.delivery_id else ""
        who = f" {self.email}" if self.email else ""
        return f"{self.outcome}{who}{where}: {self.detail}"


@dataclass
class BounceReports:
    """Applies reports to the ledger; needs our Message-ID key and domain to recognise our mail."""

    store: BounceStore
    secret_key: str
    mail_domain: str
    now: Callable[[], datetime]

    def apply_message(self, data: bytes) -> list[Applied]:
        """Read one mail message and apply every report in it (one result per report)."""
        reports = read_reports(data)
        if not reports:
            return [Applied(ReportOutcome.IGNORED,
                            detail="not a delivery status notification or feedback report")]
        return [self.apply(report) for report in reports]

    def apply(self, report: Report) -> Applied:
        """Apply one report; see the module docstring for the rules."""
        ignored = ReportOutcome.IGNORED
        if report.kind not in (BOUNCE, COMPLAINT):
            return Applied(ignored, report.recipient, detail=f"a delay, not a failure: {report.detail}")
        ref = read_delivery_message_id(self.secret_key, self.mail_domain, report.message_id)
        if ref is None:
            return Applied(ignored, report.recipient,
                           detail=f"names no message of ours (Message-ID {report.message_id or 'missing'})")
        target = self.store.report_target(ref.delivery_id)
        if target is None or target.edition_id != ref.edition_id:
            return Applied(ignored, report.recipient, detail=f"delivery {ref.delivery_id} no longer exists")
        address = target.email
        if report.recipient and report.recipient != address.lower():
            return Applied(ignored, report.recipient, ref.edition_id, ref.delivery_id,
                           detail=f"the report is about {report.recipient}, the delivery went to {address}")
        now = self.now()
        if report.kind == BOUNCE:
            self.store.bounce(target, reply=f"bounce report: {report.detail}",
                              reason=f"bounce report: {report.detail}"[:500], now=now)
            outcome = ReportOutcome.BOUNCED
        else:
            reason = f"complaint ({report.detail}) from the mailbox provider"[:500]
            self.store.complain(target, reply=f"complaint: {report.detail}"[:1000], reason=reason, now=now)
            outcome = ReportOutcome.COMPLAINED
        return Applied(outcome, address, ref.edition_id, ref.delivery_id, report.detail)
