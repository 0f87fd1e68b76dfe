"""HTTP to partners: connections go only to addresses the guard checked; redirects never followed.

httpx has no DNS hook, so the pinning lives in an httpcore network backend: it dials the addresses
pinned for the request's host in this thread and refuses any host that was not pinned, so no
second DNS lookup can happen between the check and the connection. TLS still verifies the
certificate against the URL's host name (SNI), and the Host header comes from the URL.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import certifi
import httpcore
import httpx

from syndicate.errors import PartnerUrlRefused
from syndicate.partners.guard import CheckedTarget, check_url
from syndicate.partners.ports import PushFailed, PushResponse

MAX_RESPONSE_BYTES = 4096


class PinnedBackend(httpcore.SyncBackend):
    """A network backend that connects to the addresses pinned for a host, never resolving it."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextmanager
    def pinned(self, target: CheckedTarget) -> Iterator[None]:
        """Within the block, connections to `target.host` go to its checked addresses only."""
        previous = getattr(self._local, "pins", None)
        self._local.pins = {target.host: target.addresses}
        try:
            yield
        finally:
            self._local.pins = previous

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        pins: dict[str, tuple[str, ...]] = getattr(self._local, "pins", None) or {}
        addresses = pins.get(host)
        if not addresses:
            raise httpcore.ConnectError(f"host {host!r} was not checked by the guard; not connecting")
        last: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address to connect to for {host!r}")


class PinnedTransport(httpx.HTTPTransport):
    """httpx transport whose connection pool dials through a PinnedBackend."""

    def __init__(self, backend: PinnedBackend, *, max_connections: int = 100) -> None:
        super().__init__()
        # The pool is swapped for one with our backend: httpx offers no public hook for this.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
            network_backend=backend,
        )


class PartnerClient:
    """The PushClient: one signed POST to a checked target; built once per process, thread-safe."""

    def __init__(
        self, timeout_s: float, *, allow_private: bool = False, max_connections: int = 100
    ) -> None:
        self.timeout_s = timeout_s
        self.allow_private = allow_private
        self._max_connections = max_connections
        self._backend = PinnedBackend()
        self._client = self._new_client()
        # bootstrap builds this before Celery forks its workers: a child must never share the
        # parent's pooled sockets, so it starts with an empty pool of its own.
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _renew(ref))

    def _new_client(self) -> httpx.Client:
        return httpx.Client(
            transport=PinnedTransport(self._backend, max_connections=self._max_connections),
            timeout=httpx.Timeout(self.timeout_s),
            follow_redirects=False,
            headers={"user-agent": "syndicate-webhooks/1"},
        )

    def push(self, url: str, body: bytes, headers: Mapping[str, str]) -> PushResponse | PushFailed:
        """Check `url` with the guard (again: DNS may have changed since it was saved), then POST."""
        try:
            return self.post(check_url(url, allow_private=self.allow_private), body, headers)
        except PartnerUrlRefused as exc:
            return PushFailed(str(exc))
        except httpx.TimeoutException as exc:
            return PushFailed(f"timeout after {self.timeout_s:g} s ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return PushFailed(f"{type(exc).__name__}: {exc}")

    def post(self, target: CheckedTarget, body: bytes, headers: Mapping[str, str]) -> PushResponse:
        """POST `body` to the target; raises httpx.TransportError on timeout or refused connection."""
        started = time.monotonic()
        deadline = started + self.timeout_s
        with self._backend.pinned(target), self._client.stream(
            "POST", target.url, content=body, headers=dict(headers)
        ) as response:
            kept = bytearray()
            for chunk in response.iter_raw():
                kept += chunk[: MAX_RESPONSE_BYTES - len(kept)]
                # A partner trickling a large answer must not hold the worker past the timeout.
                if len(kept) >= MAX_RESPONSE_BYTES or time.monotonic() > deadline:
                    break
        return PushResponse(
            status_code=response.status_code,
            retry_after=response.headers.get("retry-after"),
            body_start=kept.decode("utf-8", "replace"),
            elapsed_s=time.monotonic() - started,
        )

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()


def _renew(ref: weakref.ReferenceType[PartnerClient]) -> None:
    client = ref()
    if client is not None:
        client._client = client._new_client()
