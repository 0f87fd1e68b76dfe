"""Fixed-window counters and a global send pace, shared through Redis when REDIS_URL is set."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

class Counter(Protocol):
    """Counts hits of a key inside a window of `window_s` seconds."""

    def hit(self, key: str, window_s: int, amount: int = 1) -> int:
        """Count `amount` hits; returns the hits of this key in the current window."""


class LocalCounter:
    """In-process counter (embedded mode: one process serves the web)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, window_s: int, amount: int = 1) -> int:
        window = int(self._clock() // window_s)
        with self._lock:
            if len(self._counts) > 10_000:
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            self._counts[(key, window)] = self._counts.get((key, window), 0) + amount
            return self._counts[(key, window)]


class RedisCounter:
    """Counter on Redis: INCR + EXPIRE of one key per window, shared by every process."""

    def __init__(self, client: Any, prefix: str = "syndicate:rl:") -> None:
        self._redis = client
        self._prefix = prefix

    def hit(self, key: str, window_s: int, amount: int = 1) -> int:
        name = f"{self._prefix}{key}:{int(time.time() // window_s)}"
        pipe = self._redis.pipeline()
        pipe.incrby(name, amount)
        pipe.expire(name, window_s * 2)
        count, _ = pipe.execute()
        return int(count)


class FallbackCounter:
    """A shared counter that degrades to a per-process one while the shared one fails.

    When Redis is unreachable a subscribe request must still be answered: the hit is counted in
    this process instead (a weaker limit, logged as a warning at most once a minute), and Redis
    is not asked again for `retry_s` seconds, so each request costs no connection timeout.
    """

    def __init__(self, primary: Counter, fallback: Counter | None = None, *, retry_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.primary = primary
        self.fallback = fallback or LocalCounter()
        self._retry_s = retry_s
        self._clock = clock
        self._down_until = 0.0
        self._last_warning = -1e9

    def hit(self, key: str, window_s: int, amount: int = 1) -> int:
        if self._clock() >= self._down_until:
            try:
                return self.primary.hit(key, window_s, amount)
            except Exception as exc:  # redis.RedisError, OSError: any failure of the shared store
                now = self._clock()
                self._down_until = now + self._retry_s
                if now - self._last_warning >= 60:
                    self._last_warning = now
                    log.warning("rate-limit store unavailable (%s: %s); counting per process for %ss",
                                type(exc).__name__, exc, self._retry_s)
        return self.fallback.hit(key, window_s, amount)


class SendPace:
    """At most `rate` sends per second over everyone sharing the counter (0: no limit).

    Each second is a window; a sender takes a slot by counting a hit and sleeps to the next
    second when the window is full. Slots are taken `chunk` at a time to spare round trips.
    """

    def __init__(self, counter: Counter, rate: float, *, key: str = "send",
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.counter = counter
        self.rate = rate
        self.key = key
        self._sleep = sleep
        self._chunk = max(1, min(50, int(rate // 20))) if rate > 0 else 0
        self._left = 0
        self._lock = threading.Lock()  # the connections of one process share the slots they took

    def wait(self) -> None:
        """Block until one more message may be sent (thread-safe)."""
        if self.rate <= 0:
            return
        with self._lock:
            while self._left <= 0:
                used = self.counter.hit(self.key, 1, self._chunk)
                if used <= self.rate:
                    self._left = self._chunk
                else:
                    self._sleep(1.0 - (time.time() % 1.0) + 0.001)
            self._left -= 1


def make_counter(redis_url: str | None) -> Counter:
    """RedisCounter on REDIS_URL (per-process while Redis is down) when set, else in-process."""
    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        return FallbackCounter(RedisCounter(client))
    return LocalCounter()
