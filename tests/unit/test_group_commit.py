"""Group commit: every item written exactly once, in shared transactions, errors to their owners."""

from __future__ import annotations

import threading
import time

import pytest

from syndicate.storage.group_commit import GroupCommit


class Away(Exception):
    """Stands for the database being away (a shared error)."""


class Ledger:
    """A write callable that is slow enough for submitters to pile up behind it."""

    def __init__(self, *, bad: frozenset[int] = frozenset(), away: bool = False) -> None:
        self.written: list[int] = []
        self.transactions: list[list[int]] = []
        self.bad = bad
        self.away = away
        self.inside = 0
        self.most_inside = 0
        self._lock = threading.Lock()

    def write(self, items: list[int]) -> None:
        with self._lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            time.sleep(0.005)
            if self.away:
                raise Away("database away")
            if self.bad & set(items):
                raise ValueError(f"bad item in {items}")
            self.transactions.append(list(items))
            self.written += items
        finally:
            with self._lock:
                self.inside -= 1


def _submit_all(group: GroupCommit[int], items: range) -> dict[int, BaseException | None]:
    results: dict[int, BaseException | None] = {}
    start = threading.Barrier(len(items))

    def one(item: int) -> None:
        start.wait()
        try:
            group.submit(item)
            results[item] = None
        except BaseException as exc:  # the test looks at what each submitter got
            results[item] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_every_item_is_written_once_and_they_share_transactions() -> None:
    ledger = Ledger()
    group = GroupCommit(ledger.write, shared=lambda e: isinstance(e, Away))
    results = _submit_all(group, range(40))
    assert results == dict.fromkeys(range(40))
    assert sorted(ledger.written) == list(range(40))
    assert len(ledger.transactions) < 40  # submitters that waited went together
    assert ledger.most_inside == 1  # one transaction at a time
    assert (group.groups, group.items) == (len(ledger.transactions), 40)


def test_submit_returns_only_after_its_own_item_is_written() -> None:
    ledger = Ledger()
    group = GroupCommit(ledger.write, shared=lambda e: isinstance(e, Away))
    seen: list[bool] = []

    def one(item: int) -> None:
        group.submit(item)
        seen.append(item in ledger.written)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert seen == [True] * 20


def test_a_shared_error_fails_every_item_of_the_group() -> None:
    ledger = Ledger(away=True)
    group = GroupCommit(ledger.write, shared=lambda e: isinstance(e, Away))
    results = _submit_all(group, range(12))
    assert all(isinstance(e, Away) for e in results.values())
    assert ledger.written == []
    with pytest.raises(Away):  # and the next submitter is not stuck behind a dead leader
        group.submit(99)


def test_another_error_fails_only_its_own_item() -> None:
    ledger = Ledger(bad=frozenset({7}))
    group = GroupCommit(ledger.write, shared=lambda e: isinstance(e, Away))
    results = _submit_all(group, range(16))
    assert isinstance(results[7], ValueError)
    assert all(results[i] is None for i in range(16) if i != 7)
    assert sorted(ledger.written) == [i for i in range(16) if i != 7]


class Quick(Ledger):
    """A write with no sleep: hand-offs happen as fast as the threads can run."""

    def write(self, items: list[int]) -> None:
        if self.bad & set(items):
            raise ValueError(f"bad item in {items}")
        with self._lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        self.transactions.append(list(items))
        self.written += items
        with self._lock:
            self.inside -= 1


def test_senders_in_a_loop_are_never_left_asleep_and_groups_stay_one_at_a_time() -> None:
    # Ten senders, each submitting its next item as soon as the last is written (the fan-out's
    # pattern), many times over: a lost hand-off leaves a thread asleep and the join times out.
    ledger = Quick()
    group = GroupCommit(ledger.write, shared=lambda e: isinstance(e, Away), max_group=3)

    def sender(base: int) -> None:
        for i in range(300):
            group.submit(base + i)

    threads = [threading.Thread(target=sender, args=(n * 1000,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert sorted(ledger.written) == sorted(n * 1000 + i for n in range(10) for i in range(300))
    assert ledger.most_inside == 1
    assert max(len(t) for t in ledger.transactions) <= 3
    # and a submitter after them all leads at once
    group.submit(-1)
    assert ledger.written[-1] == -1


def test_submit_all_writes_a_list_in_order_across_groups_and_reports_each_item() -> None:
    # A selector loop hands in every outcome of a pass at once, while other senders submit
    # single items: lists longer than a group are split, and each item's own error comes back.
    ledger = Quick(bad=frozenset({1005}))
    group = GroupCommit(ledger.write, shared=lambda e: isinstance(e, Away), max_group=4)
    errors: dict[int, list[BaseException | None]] = {}

    def loop(base: int) -> None:
        for round_ in range(50):
            items = [base + round_ * 10 + k for k in range(10)]
            errors[items[0]] = group.submit_all(items)

    def single() -> None:
        for i in range(200):
            group.submit(50_000 + i)

    threads = [threading.Thread(target=loop, args=(0,)), threading.Thread(target=loop, args=(1000,)),
               threading.Thread(target=single)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert isinstance(errors[1000][5], ValueError)
    assert sum(e is not None for errs in errors.values() for e in errs) == 1
    expected = [i for base in (0, 1000) for i in range(base, base + 500) if i != 1005]
    assert sorted(ledger.written) == sorted(expected + list(range(50_000, 50_200)))
    assert all(len(t) <= 4 for t in ledger.transactions) and ledger.most_inside == 1
    own = [i for i in ledger.written if i < 1000]
    assert own == sorted(own)  # one submitter's items are written in the order it gave them
    assert group.submit_all([]) == []
