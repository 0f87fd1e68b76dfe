"""Embedded mode: a batch a killed worker had taken from the file broker is enqueued again.

The file broker has no acknowledgements: a message a worker took dies with it. Each worker start
begins a new epoch, so the sweep hands the rows enqueued before it to the broker again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from syndicate.broker.taskqueue import FILES_EPOCH, files_broker_dir, files_epoch, new_files_epoch
from syndicate.storage.digest_models import DeliveryRow
from tests.integration.digest_helpers import add_active, make_list, publish_sample


def enqueued_epochs(container: Any) -> set[str | None]:
    with container.session_factory() as session:
        return set(session.scalars(select(DeliveryRow.enqueued_epoch)))


def test_each_worker_start_is_a_new_epoch(tmp_path: Any) -> None:
    assert files_epoch(tmp_path) == FILES_EPOCH  # no worker ever started here
    first = new_files_epoch(tmp_path)
    assert files_epoch(tmp_path) == first
    second = new_files_epoch(tmp_path)
    assert second != first and files_epoch(tmp_path) == second


def test_rows_enqueued_before_a_worker_start_are_enqueued_again(container: Any) -> None:
    lst = make_list(container)
    add_active(container, lst, [f"r{n}@example.com" for n in range(3)])
    publish_sample(container)
    broker = files_broker_dir(container.settings)
    before = new_files_epoch(broker)
    assert container.digests.send_now(lst.slug) is not None
    assert enqueued_epochs(container) == {before}
    assert container.digests.sweep() == 0  # the same worker lives: nothing to hand over again
    after = new_files_epoch(broker)  # a worker (re)started: what the old one had taken is lost
    assert container.digests.sweep() == 1
    assert enqueued_epochs(container) == {after}
