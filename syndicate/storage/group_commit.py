"""Group commit: writes submitted by many threads at once share one transaction.

A thread that submits an item waits until the item is written (or has failed) before it goes
on, as with a write of its own; the items that arrive while a transaction is under way wait for
the next one and go together. There is no thread of its own: the first waiting submitter writes
the group (a leader), the others sleep until it is done. One group is written at a time:
measured with ten senders, a second writer at once made smaller groups that each took longer
(the database's work per transaction is what a sender waits for), and fewer messages went out.

Contract of the `write(items)` callable: it writes every item of the list in one
transaction, or none of them, and raises. An error that `shared(error)` calls shared (the
database is away) fails every item of the group with it; any other error is isolated by
writing the group's items one at a time, so one bad item fails alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Pending(Generic[T]):
    __slots__ = ("done", "error", "item", "taken")

    def __init__(self, item: T) -> None:
        self.item = item
        self.taken = False  # in a group that a leader is writing
        self.done = False
        self.error: BaseException | None = None


class GroupCommit(Generic[T]):
    """Writes items from many threads, several per transaction (see the module's contract).

    `submit` returns once its item is written and raises what failed it; a group is whatever
    was waiting when the previous transaction ended, at most `max_group` items.
    """

    def __init__(self, write: Callable[[list[T]], None], *, shared: Callable[[BaseException], bool],
                 max_group: int = 256) -> None:
        self._write = write
        self._shared = shared
        self._max = max_group
        self._cond = threading.Condition()
        self._waiting: list[_Pending[T]] = []
        self._busy = False
        self.groups = 0  # transactions written (for tests and benchmarks)
        self.items = 0

    def submit(self, item: T) -> None:
        """Write `item` in the next group; raises the error that failed it."""
        mine = _Pending(item)
        group: list[_Pending[T]] = []
        with self._cond:
            self._waiting.append(mine)
            while not mine.done and (mine.taken or self._busy):
                self._cond.wait()
            if not mine.done:  # nobody is writing and nobody took ours: lead the next group
                self._busy = True
                group, self._waiting = self._waiting[:self._max], self._waiting[self._max:]
                for p in group:
                    p.taken = True
        if group:
            try:
                self._run(group)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
        if mine.error is not None:
            raise mine.error

    def _run(self, group: list[_Pending[T]]) -> None:
        try:
            self._write([p.item for p in group])
            self.groups += 1
            self.items += len(group)
        except BaseException as exc:
            if self._shared(exc) or len(group) == 1:
                for p in group:
                    p.error = exc
            else:  # one bad item must not fail the others: write each alone
                for p in group:
                    try:
                        self._write([p.item])
                    except BaseException as alone:
                        p.error = alone
        finally:
            for p in group:
                p.done = True
