"""Running the handlers of an event: the one place where handlers are looked up."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from syndicate.services.handlers import HANDLERS
from syndicate.services.ports import UnitOfWork

if TYPE_CHECKING:
    from syndicate.bootstrap import Container

log = logging.getLogger(__name__)


def handle_event(container: Container, event_id: int) -> bool:
    """Run every handler registered for the event; returns False when it was already handled.

    Handlers must be idempotent: an event is delivered at least once, and a failure in one
    handler re-runs all of them on retry. The event is marked handled only after all succeeded.
    """
    uow_factory: Callable[[], UnitOfWork] = container.uow
    now: Callable[[], datetime] = container.now
    with uow_factory() as uow:
        if uow.events.is_handled(event_id):
            return False
        event = uow.events.get(event_id)
    if event is None:
        log.warning("event %s does not exist; nothing to do", event_id)
        return False
    try:
        for handler in HANDLERS.get(event.type, ()):
            handler(event, container)
    except Exception as exc:
        with uow_factory() as uow:
            attempts = uow.events.record_failure(event_id, f"{type(exc).__name__}: {exc}")
            uow.commit()
        log.exception("event %s (%s) failed, attempt %s", event_id, event.type, attempts)
        raise
    with uow_factory() as uow:
        uow.events.mark_handled(event_id, now=now())
        uow.commit()
    return True
