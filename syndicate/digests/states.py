"""States of a delivery in the ledger: `queued → sending → sent | failed | bounced | skipped`."""

from __future__ import annotations

QUEUED, SENDING, SENT, FAILED, BOUNCED, SKIPPED = (
    "queued", "sending", "sent", "failed", "bounced", "skipped")
#: States a row leaves only through a resend (or a later bounce report, for `sent`).
FINAL_STATES = (SENT, FAILED, BOUNCED, SKIPPED)
