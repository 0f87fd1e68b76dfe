"""HTTP to partners: connections go only to addresses the guard checked; redirects never followed.

httpx has no DNS hook, so the pinning lives in an httpcore network backend: it dials the addresses
pinned for the request's host in the current asyncio task and refuses any host that was not
pinned, so no second DNS lookup can happen between the check and the connection. TLS still
verifies the certificate against the URL's host name (SNI), and the Host header comes from the URL.

Pushes are asynchronous: one `httpx.AsyncClient` per process, on the process's `LoopThread`,
with at most `concurrency` requests in flight and a total deadline per request, so a slow partner
holds one slot for at most the timeout and never the others.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import os
import ssl
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from concurrent.futures import Future
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import certifi
import httpcore
import httpx

from syndicate.errors import PartnerUrlRefused
from syndicate.partners.guard import CheckedTarget, check_url
from syndicate.partners.loop import LoopThread
from syndicate.partners.ports import PushFailed, PushResponse

T = TypeVar("T")
MAX_RESPONSE_BYTES = 4096

# The addresses the guard checked for each host, for the asyncio task making the request.
_PINS: contextvars.ContextVar[dict[str, tuple[str, ...]] | None] = contextvars.ContextVar(
    "partner_pins", default=None
)


class PinnedBackend(httpcore.AnyIOBackend):
    """A network backend that connects to the addresses pinned for a host, never resolving it."""

    @asynccontextmanager
    async def pinned(self, target: CheckedTarget) -> AsyncIterator[None]:
        """Within the block (this task only), connections to `target.host` go to its checked
        addresses only."""
        token = _PINS.set({target.host: target.addresses})
        try:
            yield
        finally:
            _PINS.reset(token)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = (_PINS.get() or {}).get(host)
        if not addresses:
            raise httpcore.ConnectError(f"host {host!r} was not checked by the guard; not connecting")
        last: Exception | None = None
        for address in addresses:
            try:
                return await super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address to connect to for {host!r}")


class OriginTransport(httpx.AsyncHTTPTransport):
    """httpx transport for one origin whose connection pool dials through a PinnedBackend."""

    def __init__(self, backend: PinnedBackend, ssl_context: ssl.SSLContext, *, max_connections: int) -> None:
        # The shared context: building one loads the CA bundle (tens of ms, on the event loop).
        super().__init__(verify=ssl_context)
        # The pool is swapped for one with our backend: httpx offers no public hook for this.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
            network_backend=backend,
        )


class PinnedTransport(httpx.AsyncBaseTransport):
    """One small pinned pool per partner origin (scheme, host, port).

    httpcore's pool looks at every one of its connections each time it assigns a request, so one
    pool holding the connections of fifty partners costs fifty checks per request (encode/httpx
    #3215); a pool per origin looks only at that partner's few connections.
    """

    def __init__(self, backend: PinnedBackend, *, max_connections: int = 100) -> None:
        self._backend = backend
        self._max_connections = max_connections
        self._ssl_context = ssl.create_default_context(cafile=certifi.where())
        self._origins: dict[tuple[str, str, int | None], OriginTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send the request through its origin's pool (made on first use)."""
        origin = (request.url.scheme, request.url.host, request.url.port)
        transport = self._origins.get(origin)
        if transport is None:
            transport = self._origins[origin] = OriginTransport(
                self._backend, self._ssl_context, max_connections=self._max_connections)
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        """Close every origin's pooled connections."""
        origins, self._origins = list(self._origins.values()), {}
        for transport in origins:
            await transport.aclose()


class PartnerClient:
    """The PushClient: signed POSTs to checked targets, `concurrency` at a time per process.

    Built once per process by bootstrap. Its requests run on its own `LoopThread`: `run` hands a
    coroutine to that loop from synchronous code; `push` and `post` are awaited there.
    """

    def __init__(
        self, timeout_s: float, *, allow_private: bool = False, concurrency: int = 50
    ) -> None:
        self.timeout_s = timeout_s
        self.allow_private = allow_private
        self.concurrency = max(1, concurrency)
        self.loop = LoopThread()
        self._backend = PinnedBackend()
        # Built on the loop at first use, per process (a forked child never shares the parent's
        # pooled sockets: the pid check below gives it its own client and slots).
        self._client: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None
        self._pid: int | None = None

    def submit(self, work: Callable[[], Coroutine[Any, Any, T]]) -> Future[T]:
        """Start `work()` on the client's loop; returns its future (see LoopThread.submit)."""
        return self.loop.submit(work)

    def run(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run `work()` on the client's loop and wait for its result."""
        return self.loop.run(work)

    def _ready(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        if self._client is None or self._slots is None or self._pid != os.getpid():
            self._client = httpx.AsyncClient(
                transport=PinnedTransport(self._backend, max_connections=self.concurrency),
                timeout=httpx.Timeout(self.timeout_s),
                follow_redirects=False,
                headers={"user-agent": "syndicate-webhooks/1"},
            )
            self._slots = asyncio.Semaphore(self.concurrency)
            self._pid = os.getpid()
        return self._client, self._slots

    async def push(
        self, url: str, body: bytes, headers: Mapping[str, str],
        on_start: Callable[[], None] | None = None,
    ) -> PushResponse | PushFailed:
        """Check `url` with the guard (again: DNS may have changed since it was saved), then POST;
        waits for a free slot first (then calls `on_start`). Never raises for a partner's fault."""
        _client, slots = self._ready()
        async with slots:
            if on_start is not None:
                on_start()
            try:
                target = await _checked(url, allow_private=self.allow_private)
                async with asyncio.timeout(self.timeout_s):
                    return await self.post(target, body, headers)
            except PartnerUrlRefused as exc:
                return PushFailed(str(exc))
            except (httpx.TimeoutException, TimeoutError) as exc:
                return PushFailed(f"timeout after {self.timeout_s:g} s ({type(exc).__name__})")
            except httpx.HTTPError as exc:
                return PushFailed(f"{type(exc).__name__}: {exc}")

    async def post(self, target: CheckedTarget, body: bytes, headers: Mapping[str, str]) -> PushResponse:
        """POST `body` to the target; raises httpx.TransportError on timeout or refused connection."""
        client, _slots = self._ready()
        started = time.monotonic()
        async with self._backend.pinned(target), client.stream(
            "POST", target.url, content=body, headers=dict(headers)
        ) as response:
            kept = bytearray()
            async for chunk in response.aiter_raw():
                kept += chunk[: MAX_RESPONSE_BYTES - len(kept)]
                if len(kept) >= MAX_RESPONSE_BYTES:
                    break
        return PushResponse(
            status_code=response.status_code,
            retry_after=response.headers.get("retry-after"),
            body_start=kept.decode("utf-8", "replace"),
            elapsed_s=time.monotonic() - started,
        )

    def close(self) -> None:
        """Close pooled connections and stop the loop (of this process)."""
        if not self.loop.started_here():
            return
        client = self._client if self._pid == os.getpid() else None
        if client is not None:
            self._client = None
            self.loop.run(client.aclose)
        self.loop.stop()


async def _checked(url: str, *, allow_private: bool) -> CheckedTarget:
    """The guard's check; a host name is resolved in a thread (DNS blocks), a literal address not."""
    try:
        ipaddress.ip_address(httpx.URL(url).host.strip("[]"))
    except (ValueError, httpx.InvalidURL, TypeError):
        return await asyncio.to_thread(check_url, url, allow_private=allow_private)
    return check_url(url, allow_private=allow_private)
