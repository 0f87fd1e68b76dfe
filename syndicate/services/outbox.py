"""The outbox relay: hands committed events to the broker, and re-hands lost ones."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from syndicate.domain.commands import HandleEvent
from syndicate.services.ports import TaskQueue, UnitOfWork

log = logging.getLogger(__name__)

# A dispatched event still unhandled after this long is assumed lost (a broker restart without
# persistence, a worker killed mid-task: Redis would hold its unacknowledged message for an hour)
# and is dispatched again. Handlers only write rows and submit commands, so they finish in well
# under this; they are idempotent, so a second delivery of an event that was merely slow (a long
# queue) is harmless.
REDELIVER_AFTER_S = 60.0


def dispatch(
    uow_factory: Callable[[], UnitOfWork],
    tasks: TaskQueue,
    event_ids: Iterable[int],
    *,
    now: Callable[[], datetime],
) -> int:
    """Submit each event's handling and record it as dispatched; stops at the first broker refusal.

    Returns how many were handed over. Marking happens after the broker accepted the message:
    a crash in between leaves the event undispatched, so it is sent twice, never zero times.
    """
    sent = 0
    for event_id in event_ids:
        with uow_factory() as uow:
            if not uow.events.is_due(event_id, now=now()):
                continue  # a scheduled release: the relay hands it over when its time comes
        if not tasks.submit(HandleEvent(event_id)):
            log.warning("broker unavailable, event %s stays in the outbox until the broker is back", event_id)
            break
        with uow_factory() as uow:
            uow.events.mark_dispatched(event_id, now=now())
            uow.commit()
        sent += 1
    return sent


def relay_pending(
    uow_factory: Callable[[], UnitOfWork],
    tasks: TaskQueue,
    *,
    now: Callable[[], datetime],
    redeliver_after_s: float = REDELIVER_AFTER_S,
    limit: int = 500,
) -> int:
    """Dispatch events never handed over, or handed over but never handled in time."""
    with uow_factory() as uow:
        due = list(
            uow.events.due_for_dispatch(now=now(), redeliver_after_s=redeliver_after_s, limit=limit)
        )
    return dispatch(uow_factory, tasks, due, now=now) if due else 0
