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

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import update

from syndicate.digests import ledger
from syndicate.digests.msgids import read_delivery_message_id
from syndicate.digests.subscribers import COMPLAINED
from syndicate.mail.reports import BOUNCE, COMPLAINT, Report, read_reports
from syndicate.storage.digest_models import DeliveryRow, SubscriberRow

if TYPE_CHECKING:
    from syndicate.bootstrap import Container

BOUNCED_OUTCOME, COMPLAINED_OUTCOME, IGNORED = "bounced", "complained", "ignored"


@dataclass(frozen=True)
class Applied:
    """What one report did: outcome `bounced`, `complained` or `ignored`, and why."""

    outcome: str
    email: str = ""
    edition_id: int | None = None
    delivery_id: int | None = None
    detail: str = ""

    def line(self) -> str:
        """'bounced ann@example.org edition=3 delivery=12 5.1.1 …' for the CLI."""
        where = f" edition={self.edition_id} delivery={self.delivery_id}" if self.delivery_id else ""
        who = f" {self.email}" if self.email else ""
        return f"{self.outcome}{who}{where}: {self.detail}"


def apply_report_message(container: Container, data: bytes) -> list[Applied]:
    """Read one mail message and apply every report in it (one result per report)."""
    reports = read_reports(data)
    if not reports:
        return [Applied(IGNORED, detail="not a delivery status notification or feedback report")]
    return [apply_report(container, report) for report in reports]


def apply_report(container: Container, report: Report) -> Applied:
    """Apply one report; see the module docstring for the rules."""
    if report.kind not in (BOUNCE, COMPLAINT):
        return Applied(IGNORED, report.recipient, detail=f"a delay, not a failure: {report.detail}")
    s = container.settings
    ref = read_delivery_message_id(s.resolved_secret_key, s.mail_domain, report.message_id)
    if ref is None:
        return Applied(IGNORED, report.recipient,
                       detail=f"names no message of ours (Message-ID {report.message_id or 'missing'})")
    now = container.now()
    with container.session_factory() as session:
        row = session.get(DeliveryRow, ref.delivery_id)
        subscriber = session.get(SubscriberRow, row.subscriber_id) if row is not None else None
        if row is None or subscriber is None or row.edition_id != ref.edition_id:
            return Applied(IGNORED, report.recipient, detail=f"delivery {ref.delivery_id} no longer exists")
        address = subscriber.email
        if report.recipient and report.recipient != address.lower():
            return Applied(IGNORED, report.recipient, ref.edition_id, ref.delivery_id,
                           detail=f"the report is about {report.recipient}, the delivery went to {address}")
        if report.kind == BOUNCE:
            ledger.bounce_after_send(session, ref.edition_id, ref.delivery_id,
                                     reply=f"bounce report: {report.detail}", now=now)
            ledger.suppress_bounced(session, [subscriber.id], reason=f"bounce report: {report.detail}"[:500])
            outcome = BOUNCED_OUTCOME
        else:
            session.execute(update(DeliveryRow).where(DeliveryRow.id == ref.delivery_id).values(
                last_reply=f"complaint: {report.detail}"[:1000], updated_at=now))
            if subscriber.status != COMPLAINED:
                subscriber.status = COMPLAINED
                subscriber.status_reason = f"complaint ({report.detail}) from the mailbox provider"[:500]
            outcome = COMPLAINED_OUTCOME
        session.commit()
    return Applied(outcome, address, ref.edition_id, ref.delivery_id, report.detail)
