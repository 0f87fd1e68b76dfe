"""Deliveries in flight together: one run leases a batch, pushes it concurrently, records outcomes.

Invariants of a run (on the PushClient's event loop; storage calls go to a thread so pushes keep
flowing while a transaction commits):
- one transaction leases every due, first-in-line delivery of the batch (and skips, untouched,
  those of a partner whose rate limit is used up): an attempt is counted before its POST starts;
- every push has its own deadline (the client's timeout); an outcome is written as soon as it is
  known, together with every outcome that arrived while the previous write ran, in one
  transaction: the deliveries that finish together share a commit, and a slow partner holds only
  its own row, never the others' outcomes;
- a heartbeat renews the leases of the run's unrecorded deliveries every `lease / 6`, and only
  while the claim is still theirs (the attempt count our claim set), so a delivery held by a
  worker that died is taken over one lease after its last renewal, and never while its pusher lives;
- a delivered (or dead) delivery releases the next event of its article to its partner; the run
  claims and pushes that one at once, so per (partner, article) order holds without waiting for
  the sweep;
- while the database is away the run keeps retrying its writes for up to one lease, then gives up:
  the leases then run out and the sweep takes the deliveries over (a partner may get a push twice,
  with the same webhook-id, which is what the id is for).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from syndicate.errors import DatabaseUnavailable
from syndicate.partners.outcomes import judge
from syndicate.partners.ports import (
    AttemptOutcome,
    AttemptRecord,
    Claim,
    DeliveryState,
    DeliveryStatus,
    PushClient,
    PushFailed,
    PushResponse,
    PushStore,
)
from syndicate.partners.secrets import signing_secrets
from syndicate.partners.signing import signed_headers

log = logging.getLogger("syndicate.partners")
T = TypeVar("T")

Reply = PushResponse | PushFailed


def why_not(state: DeliveryState | None, now: datetime) -> AttemptOutcome:
    """Why a delivery that could not be claimed at `now` was not attempted."""
    if state is None or state.status is not DeliveryStatus.PENDING:
        return AttemptOutcome.GONE
    if state.next_attempt_at is None or state.next_attempt_at > now:
        return AttemptOutcome.NOT_DUE
    if state.locked_until is not None and state.locked_until >= now:
        return AttemptOutcome.BUSY
    return AttemptOutcome.WAITING if state.partner_active else AttemptOutcome.PAUSED


class BatchRun:
    """One batch of deliveries in flight together (see the module's invariants); run it once."""

    def __init__(
        self, store: PushStore, client: PushClient, *, clock: Callable[[], datetime],
        lease: timedelta, disable_after: timedelta, rng: random.Random | None = None,
        outage_wait_s: float | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.clock = clock
        self.lease = lease
        self.disable_after = disable_after
        self.rng = rng
        self.outage_wait_s = lease.total_seconds() if outage_wait_s is None else outage_wait_s
        #: What happened to each delivery so far (read from another thread while the run goes on).
        self.outcomes: dict[int, AttemptOutcome] = {}
        #: Transactions that wrote outcomes (how well outcomes shared commits).
        self.record_commits = 0
        #: Set once every push of the first claim has a slot (or the run ended): from then on the
        #: batch is in flight and the caller may go on (read from another thread).
        self.started = threading.Event()
        self._waiting_for_slots = 0
        self._in_flight: dict[int, Claim] = {}
        self._replies: asyncio.Queue[tuple[Claim, datetime, Reply]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, delivery_ids: Sequence[int]) -> dict[int, AttemptOutcome]:
        """Attempt the due ones among `delivery_ids` (and the successors they release); returns
        the outcome of each delivery looked at, once every attempt made is recorded."""
        heartbeat: asyncio.Task[None] | None = None
        try:
            await self._claim(delivery_ids, first=True)
            heartbeat = asyncio.create_task(self._heartbeat())
            while self._in_flight:
                got = [await self._replies.get()]
                while not self._replies.empty():
                    got.append(self._replies.get_nowait())
                await self._record(got)
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
            for task in self._tasks:
                task.cancel()
            self.started.set()
        return self.outcomes

    # --- leasing ---------------------------------------------------------------------------------

    async def _claim(self, delivery_ids: Sequence[int], *, first: bool = False) -> None:
        now = self.clock()
        batch = await self._store(self.store.claim_batch, delivery_ids, now=now,
                                  lease_until=now + self.lease)
        if batch.taken_over:
            log.warning("took over %s partner deliveries whose pusher stopped renewing its lease",
                        batch.taken_over)
        if batch.throttled:
            for delivery_id in batch.throttled:
                self.outcomes[delivery_id] = AttemptOutcome.THROTTLED
            await self._store(self.store.postpone_many, {
                d: now + timedelta(seconds=60.0 / t.per_minute) for d, t in batch.throttled.items()
            })
        forget = []
        for delivery_id, state in batch.skipped.items():
            outcome = self.outcomes[delivery_id] = why_not(state, now)
            if outcome in (AttemptOutcome.WAITING, AttemptOutcome.PAUSED):
                forget.append(delivery_id)  # the sweep enqueues it again once it can go
        if forget:
            await self._store(self.store.forget_enqueued_many, forget)
        if first:
            self._waiting_for_slots = len(batch.claims)
            if not batch.claims:
                self.started.set()
        for claim in batch.claims:
            self._in_flight[claim.delivery_id] = claim
            task = asyncio.create_task(self._push(claim, now, counted=first))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _heartbeat(self) -> None:
        every = max(0.5, self.lease.total_seconds() / 6)
        while True:
            await asyncio.sleep(every)
            leases = {d: c.attempts for d, c in self._in_flight.items()}
            if not leases:
                continue
            try:
                await asyncio.to_thread(self.store.renew, leases,
                                        lease_until=self.clock() + self.lease)
            except Exception as exc:  # a missed renewal only shortens the lease: keep pushing
                log.warning("partner lease renewal failed (%s); retrying in %.0f s", exc, every)

    # --- pushing and recording -------------------------------------------------------------------

    def _has_slot(self) -> None:
        self._waiting_for_slots -= 1
        if self._waiting_for_slots <= 0:
            self.started.set()

    async def _push(self, claim: Claim, now: datetime, *, counted: bool) -> None:
        keys = claim.keys
        secrets = signing_secrets(keys.secret, keys.previous_secret, keys.previous_until, now=now)
        # The signature's timestamp is the wall clock: receivers check it against theirs.
        headers = signed_headers(claim.webhook_id, datetime.now(UTC), claim.body, secrets)
        reply: Reply
        try:
            reply = await self.client.push(claim.url, claim.body.encode("utf-8"), headers,
                                           self._has_slot if counted else None)
        except Exception as exc:  # the client never raises for a partner; record a bug as a failure
            log.exception("push of delivery %s failed unexpectedly", claim.delivery_id)
            reply = PushFailed(f"{type(exc).__name__}: {exc}")
        self._replies.put_nowait((claim, now, reply))

    async def _record(self, got: list[tuple[Claim, datetime, Reply]]) -> None:
        judged = [judge(claim, reply, now, disable_after=self.disable_after, rng=self.rng)
                  for claim, now, reply in got]
        recorded = await self._store(self.store.record_batch, [record for _o, record in judged])
        self.record_commits += 1
        successors = []
        for (claim, _now, _reply), (outcome, record), result in zip(got, judged, recorded, strict=True):
            del self._in_flight[claim.delivery_id]
            self.outcomes[claim.delivery_id] = outcome
            if outcome in (AttemptOutcome.FAILED, AttemptOutcome.DEAD) and (
                    record.status_code != 410 or result.disabled):
                _log_failure(claim, outcome, record, disabled=result.disabled)
            if result.successor is not None:
                successors.append(result.successor)
        if successors:
            await self._claim(successors)

    async def _store(self, call: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run a storage call in a thread, retrying while the database is away (up to the bound)."""
        waited, pause = 0.0, 0.5
        while True:
            try:
                return await asyncio.to_thread(call, *args, **kwargs)
            except DatabaseUnavailable:
                if waited >= self.outage_wait_s:
                    raise
                if not waited:
                    log.warning("database unreachable; partner outcomes wait until it is back")
                await asyncio.sleep(pause)
                waited += pause
                pause = min(pause * 2, 5.0)


def _log_failure(claim: Claim, outcome: AttemptOutcome, record: AttemptRecord, *, disabled: bool) -> None:
    """One line per failed push, saying what happens next: a retry, the end of the delivery, or
    the partner disabled (a 410 for a partner disabled already gets no line)."""
    error = record.error or record.status_code
    where = f"delivery {claim.delivery_id} to partner {claim.partner_id}"
    if disabled:
        what = (f"{where}, attempt {claim.attempts}: {error}; partner {claim.partner_id} "
                f"({claim.partner_name}) disabled: {record.disable_reason}")
    elif outcome is AttemptOutcome.DEAD:
        what = f"{where} dead after {claim.attempts} attempts: {error}"
    else:
        retry = record.next_attempt_at.isoformat() if record.next_attempt_at else "-"
        what = f"{where}, attempt {claim.attempts}: {error}; retry at {retry}"
    log.warning("partner push failed: %s", what,
                extra={"partner_id": claim.partner_id, "delivery_id": claim.delivery_id,
                       "attempt": claim.attempts, "status_code": record.status_code,
                       "outcome": str(outcome), "partner_disabled": disabled})
