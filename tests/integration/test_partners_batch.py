"""Pushes in flight together, against real receivers on loopback (SQLite and PostgreSQL).

A slow partner holds only its own delivery; outcomes of a batch are exact; per (partner, article)
order holds inside one run; leases are renewed while a push runs and taken over after a death.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from standardwebhooks import Webhook

from syndicate.partners.ports import AttemptOutcome, PartnerInput
from syndicate.storage.partner_models import PartnerAttemptRow, PartnerDeliveryRow
from tests.conftest import wait_for
from tests.integration.partners_helpers import Received, Receiver, Reply, article, publish

pytest_plugins = ["tests.integration.conftest_partners"]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_container(request: pytest.FixtureRequest, make_container: Callable[..., Any]) -> Any:
    overrides: dict[str, Any] = {"partner_allow_private": True, "partner_timeout_s": 20.0,
                                 "partner_lease_seconds": 3.0}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_url")
    return make_container(**overrides)


def rows(container: Any) -> dict[int, PartnerDeliveryRow]:
    with container.session_factory() as s:
        return {r.id: r for r in s.scalars(select(PartnerDeliveryRow))}


def add_partners(container: Any, receiver: Receiver, names: list[str]) -> dict[str, tuple[int, str]]:
    added = {}
    for name in names:
        partner, secret = container.partner_registry.add(
            PartnerInput(name=name, url=receiver.url(f"/{name}")))
        added[name] = (partner.id, secret)
    return added


def by_partner(container: Any, ids: list[int]) -> dict[int, int]:
    return {r.partner_id: r.id for i, r in rows(container).items() if i in ids}


def test_a_slow_partner_holds_only_its_own_delivery(db_container: Any, receiver: Receiver) -> None:
    partners = add_partners(db_container, receiver, ["slow", "a", "b", "c", "d"])
    gate = threading.Event()

    def reply(got: Received) -> Reply:
        if got.path == "/slow":
            gate.wait(30)  # held until the test has seen the others recorded
        return Reply(204)

    receiver.reply = reply
    ids = publish(db_container, article(1))
    delivery_of = by_partner(db_container, ids)
    slow = delivery_of[partners["slow"][0]]
    outcomes: dict[int, AttemptOutcome] = {}
    run = threading.Thread(target=lambda: outcomes.update(db_container.partner_pushes.push(ids)))
    run.start()
    try:
        fast = [d for d in ids if d != slow]
        wait_for(lambda: all(rows(db_container)[d].status == "delivered" for d in fast), 30,
                 "the fast partners' outcomes to be recorded")
        # Recorded while the slow partner's request is still held open by the receiver.
        assert not gate.is_set() and run.is_alive()
        held = rows(db_container)[slow]
        assert held.status == "pending" and held.attempts == 1 and held.locked_until is not None
        assert sorted(r.path for r in receiver.requests) == ["/a", "/b", "/c", "/d", "/slow"]
    finally:
        gate.set()
        run.join(60)
    assert outcomes == dict.fromkeys(ids, AttemptOutcome.DELIVERED)
    assert rows(db_container)[slow].status == "delivered"


def test_outcomes_of_a_batch_are_exact(db_container: Any, receiver: Receiver) -> None:
    kinds = {"ok": Reply(200), "boom": Reply(500), "gone": Reply(410),
             "busy": Reply(429, {"Retry-After": "120"}), "moved": Reply(302, {"Location": "/x"})}
    names = [f"{kind}{n}" for kind in kinds for n in range(6)]  # 30 partners, one batch
    partners = add_partners(db_container, receiver, names)
    receiver.reply = lambda got: kinds[got.path.strip("/0123456789")]
    ids = publish(db_container, article(1))
    assert len(ids) == 30
    now = db_container.now()
    outcomes = db_container.partner_pushes.push(ids, now=now)

    expected = {"ok": "delivered", "boom": "failed", "gone": "dead", "busy": "failed", "moved": "failed"}
    by_id = {partners[name][0]: name for name in names}
    stored = rows(db_container)
    for delivery_id in ids:
        name = by_id[stored[delivery_id].partner_id]
        kind = name.rstrip("0123456789")
        assert outcomes[delivery_id] == expected[kind], name
        row = stored[delivery_id]
        assert row.attempts == 1 and row.locked_until is None
        assert row.last_status_code == kinds[kind].status, row.last_error
        assert row.status == {"delivered": "delivered", "failed": "pending", "dead": "dead"}[expected[kind]]
        if kind == "busy":
            assert row.next_attempt_at == now + timedelta(seconds=120)
    # One request per delivery, each signed with its partner's secret and its own webhook-id.
    assert len(receiver.requests) == 30
    for got in receiver.requests:
        _pid, secret = partners[got.path.strip("/")]
        Webhook(secret).verify(got.body, got.headers)
    assert sorted(r.headers["webhook-id"] for r in receiver.requests) == sorted(
        stored[d].webhook_id for d in ids)
    with db_container.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(PartnerAttemptRow)) == 30
    gone = {pid for name, (pid, _s) in partners.items() if name.startswith("gone")}
    assert {p.partner.id for p in db_container.partner_reads.partners() if not p.partner.active} == gone


def test_updates_follow_their_publication_per_partner_within_one_run(
    db_container: Any, receiver: Receiver
) -> None:
    partners = add_partners(db_container, receiver, ["p0", "p1", "p2", "p3"])
    ids = []
    ids += publish(db_container, article(1, title="A v1"))
    ids += publish(db_container, article(2, title="B v1"))
    ids += publish(db_container, article(1, title="A v2"))
    ids += publish(db_container, article(1, title="A v3"))
    outcomes = db_container.partner_pushes.push(ids)
    # Every update was released by the delivery before it and pushed in the same run.
    assert outcomes == dict.fromkeys(ids, AttemptOutcome.DELIVERED)
    for name, (_pid, secret) in partners.items():
        mine = [Webhook(secret).verify(r.body, r.headers)["data"] for r in receiver.requests
                if r.path == f"/{name}"]
        assert [d["title"] for d in mine if d["guid"] == "g-1"] == ["A v1", "A v2", "A v3"]
        assert [d["title"] for d in mine if d["guid"] == "g-2"] == ["B v1"]


def test_leases_are_renewed_while_a_push_runs(db_container: Any, receiver: Receiver) -> None:
    add_partners(db_container, receiver, ["slow"])
    gate = threading.Event()
    receiver.reply = lambda _got: (gate.wait(30), Reply(204))[1]
    [delivery_id] = publish(db_container, article(1))
    run = threading.Thread(target=lambda: db_container.partner_pushes.push([delivery_id]))
    run.start()
    try:
        wait_for(lambda: rows(db_container)[delivery_id].locked_until is not None, 30, "the lease")
        first = rows(db_container)[delivery_id].locked_until
        # PARTNER_LEASE_SECONDS=3: renewed every 0.5 s while the request is held.
        wait_for(lambda: rows(db_container)[delivery_id].locked_until != first, 30, "a renewal")
        renewed = rows(db_container)[delivery_id].locked_until
        assert first is not None and renewed is not None and renewed > first
        # Another worker cannot claim it meanwhile.
        assert db_container.partner_pushes.attempt(delivery_id) is AttemptOutcome.BUSY
    finally:
        gate.set()
        run.join(60)
    assert rows(db_container)[delivery_id].status == "delivered"
    assert len(receiver.requests) == 1


def test_a_delivery_whose_pusher_died_is_taken_over_after_its_lease(
    db_container: Any, receiver: Receiver
) -> None:
    add_partners(db_container, receiver, ["agency"])
    [delivery_id] = publish(db_container, article(1))
    store = db_container.partner_pushes.store
    now = db_container.now()
    # A worker claimed it and died: nobody renews its lease.
    [dead] = store.claim_batch([delivery_id], now=now, lease_until=now + timedelta(seconds=3)).claims
    assert db_container.partner_pushes.attempt(delivery_id, now=now + timedelta(seconds=2)) \
        is AttemptOutcome.BUSY
    later = now + timedelta(seconds=4)
    taken = store.claim_batch([delivery_id], now=later, lease_until=later + timedelta(seconds=3))
    assert taken.taken_over == 1 and [c.attempts for c in taken.claims] == [dead.attempts + 1]
    # The first worker's renewal, were it alive after all, no longer extends a lease it lost.
    store.renew({delivery_id: dead.attempts}, lease_until=later + timedelta(hours=1))
    assert rows(db_container)[delivery_id].locked_until == later + timedelta(seconds=3)
    store.renew({delivery_id: dead.attempts + 1}, lease_until=later + timedelta(seconds=9))
    assert rows(db_container)[delivery_id].locked_until == later + timedelta(seconds=9)
    # Once that lease runs out too, a push takes it over and delivers it.
    final = later + timedelta(seconds=10)
    assert db_container.partner_pushes.attempt(delivery_id, now=final) is AttemptOutcome.DELIVERED
    row = rows(db_container)[delivery_id]
    assert row.status == "delivered" and row.attempts == 3 and row.locked_until is None
    assert [json.loads(r.body)["data"]["guid"] for r in receiver.requests] == ["g-1"]


def test_a_push_task_returns_once_its_pushes_are_in_flight(
    make_container: Callable[..., Any], receiver: Receiver
) -> None:
    container = make_container(partner_allow_private=True, partner_timeout_s=20.0)
    partners = add_partners(container, receiver, ["slow", "a", "b"])
    gate = threading.Event()
    receiver.reply = lambda got: (got.path == "/slow" and gate.wait(30), Reply(204))[1]
    ids = publish(container, article(1))
    slow = by_partner(container, ids)[partners["slow"][0]]
    try:
        # Every push has a slot: the task returns while the slow partner's request is held open.
        counts = container.partner_pushes.push_task(ids)
        assert not gate.is_set()
        assert counts["in-flight"] >= 1 and sum(counts.values()) == 3
        assert set(counts) <= {"in-flight", "delivered"}
        assert rows(container)[slow].status == "pending"
        wait_for(lambda: sorted(r.path for r in receiver.requests) == ["/a", "/b", "/slow"], 30,
                 "every partner to be called")
    finally:
        gate.set()
    # The pushes went on in the process and record their outcomes when the partners answer.
    wait_for(lambda: all(r.status == "delivered" for r in rows(container).values()), 30,
             "every push to be recorded")


def test_a_push_task_waits_for_slots_when_the_process_has_none_free(
    make_container: Callable[..., Any], receiver: Receiver
) -> None:
    container = make_container(partner_allow_private=True, partner_timeout_s=20.0,
                               partner_concurrency=1)
    add_partners(container, receiver, ["slow", "next"])
    gate = threading.Event()
    receiver.reply = lambda got: (got.path == "/slow" and gate.wait(30), Reply(204))[1]
    first = publish(container, article(1))  # both partners; one slot: "/slow" takes it first
    done = threading.Event()
    task = threading.Thread(target=lambda: (container.partner_pushes.push_task(first), done.set()))
    task.start()
    try:
        wait_for(lambda: [r.path for r in receiver.requests] == ["/slow"], 30, "the slow push")
        # The second push of the batch has no slot while the slow one holds it: no return yet.
        assert not done.is_set()
    finally:
        gate.set()
    task.join(30)
    assert done.is_set()
    wait_for(lambda: all(r.status == "delivered" for r in rows(container).values()), 30,
             "every push to be recorded")
    assert [r.path for r in receiver.requests] == ["/slow", "/next"]


def test_the_sweep_hands_over_a_dead_pushers_delivery_once_its_lease_ran_out(
    db_container: Any, receiver: Receiver
) -> None:
    add_partners(db_container, receiver, ["agency"])
    [delivery_id] = publish(db_container, article(1))  # enqueued by the handler just now
    store, pushes = db_container.partner_pushes.store, db_container.partner_pushes
    now = db_container.now()
    store.claim_batch([delivery_id], now=now, lease_until=now + timedelta(seconds=3))  # then died
    assert pushes.sweep(now=now + timedelta(seconds=2)) == 0  # still leased
    # Not the broker's 60 s window: the claim showed its message had left the broker.
    assert pushes.sweep(now=now + timedelta(seconds=4)) == 1
