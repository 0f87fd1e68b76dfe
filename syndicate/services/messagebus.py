"""Running the handlers of an event: the one place where handlers are looked up and called."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from syndicate.domain.events import ArticleEvent
from syndicate.services.ports import UnitOfWork

log = logging.getLogger(__name__)

#: A handler with its dependencies already bound (see bootstrap.inject_dependencies).
BoundHandler = Callable[[ArticleEvent], None]


def handle_event(
    event_id: int,
    *,
    uow: Callable[[], UnitOfWork],
    now: Callable[[], datetime],
    handlers: Mapping[str, Sequence[BoundHandler]],
) -> bool:
    """Run every handler registered for the event; returns False when it was already handled.

    Handlers must be idempotent: an event is delivered at least once, and a failure in one
    handler re-runs all of them on retry. The event is marked handled only after all succeeded.
    """
    with uow() as work:
        if work.events.is_handled(event_id):
            return False
        event = work.events.get(event_id)
    if event is None:
        log.warning("event %s does not exist; nothing to do", event_id)
        return False
    try:
        for handler in handlers.get(event.type, ()):
            handler(event)
    except Exception as exc:
        with uow() as work:
            attempts = work.events.record_failure(event_id, f"{type(exc).__name__}: {exc}")
            work.commit()
        log.exception("event %s (%s) failed, attempt %s", event_id, event.type, attempts)
        raise
    with uow() as work:
        work.events.mark_handled(event_id, now=now())
        work.commit()
    return True
