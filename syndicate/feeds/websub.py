"""WebSub publisher pings: tell a hub that a feed URL has new content."""

from __future__ import annotations

import httpx

from syndicate.errors import WebSubPingFailed

TIMEOUT_SECONDS = 10.0


def ping(hub: str, feed_url: str, *, client: httpx.Client | None = None) -> int:
    """POST `hub.mode=publish` for `feed_url` to `hub`; returns the status, raises WebSubPingFailed.

    Sends both `hub.url` (the publisher convention) and `hub.topic` (what some hubs read). A 2xx
    answer is success; anything else, or no answer, raises so the task retries with backoff.
    """
    form = {"hub.mode": "publish", "hub.url": feed_url, "hub.topic": feed_url}
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)
    try:
        response = http.post(hub, data=form)
    except httpx.HTTPError as exc:
        raise WebSubPingFailed(hub, feed_url, f"{type(exc).__name__}: {exc}") from exc
    finally:
        if own:
            http.close()
    if not 200 <= response.status_code < 300:
        raise WebSubPingFailed(hub, feed_url, f"HTTP {response.status_code}")
    return response.status_code
