"""A batch run on fakes: outcomes that arrive together share one write; a slow one gets its own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from syndicate.partners.ports import AttemptOutcome, PushFailed, PushResponse
from tests.unit.fakes.partners import FakePushClient, World, make_world


@dataclass
class GatedClient(FakePushClient):
    """Holds every push until `release` of them have started; URLs in `slow` wait for `late`."""

    release: int = 0
    slow: set[str] = field(default_factory=set)
    started: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    late: asyncio.Event = field(default_factory=asyncio.Event)
    loop: asyncio.AbstractEventLoop | None = None

    async def push(
        self, url: str, body: bytes, headers: Mapping[str, str],
        on_start: Callable[[], None] | None = None,
    ) -> PushResponse | PushFailed:
        self.loop = asyncio.get_running_loop()
        self.started += 1
        if self.started >= self.release:
            self.gate.set()
        await self.gate.wait()
        if url in self.slow:
            await self.late.wait()
        return await super().push(url, body, headers, on_start)

    def let_slow_go(self) -> None:
        """Answer the slow pushes (callable from any thread)."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.late.set)


def gated_world(client: GatedClient) -> World:
    world = make_world()
    world.client = client
    world.pushes.client = client
    return world


def test_outcomes_that_arrive_together_are_written_in_one_transaction() -> None:
    world = gated_world(GatedClient(release=10))
    for n in range(10):
        world.partner(f"p{n}")
    ids = world.publish(1)
    assert world.pushes.push(ids) == dict.fromkeys(ids, AttemptOutcome.DELIVERED)
    assert world.store.batches == [10]


def test_a_slow_partner_is_written_after_the_others_in_its_own_transaction() -> None:
    client = GatedClient(release=5, slow={"http://127.0.0.1:9/slow"})
    world = gated_world(client)
    for name in ("slow", "a", "b", "c", "d"):
        world.partner(name)
    ids = world.publish(1)
    record_batch = world.store.record_batch

    def recording(records: Any) -> Any:
        try:
            return record_batch(records)
        finally:
            client.let_slow_go()  # the slow partner answers only once the others were written

    world.store.record_batch = recording  # type: ignore[method-assign]
    assert world.pushes.push(ids) == dict.fromkeys(ids, AttemptOutcome.DELIVERED)
    assert world.store.batches == [4, 1]
    assert [s.url.rsplit("/", 1)[1] for s in world.client.sent][-1] == "slow"


def test_a_throttled_partner_gets_as_many_claims_as_its_limit_leaves() -> None:
    world = make_world()
    world.partner("limited", rate_limit_per_minute=2)
    ids = [i for n in range(1, 5) for i in world.publish(n, n)]
    outcomes = world.pushes.push(ids)
    assert list(outcomes.values()).count(AttemptOutcome.DELIVERED) == 2
    assert list(outcomes.values()).count(AttemptOutcome.THROTTLED) == 2
    assert len(world.client.sent) == 2
    assert all(world.store.deliveries[i].attempts == 0 for i, o in outcomes.items()
               if o is AttemptOutcome.THROTTLED)
