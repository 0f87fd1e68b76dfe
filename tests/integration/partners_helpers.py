"""Helpers of partner tests: a real HTTP receiver on loopback, and publishing shortcuts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from syndicate.domain.events import ArticleEvent


@dataclass
class Reply:
    """What the receiver answers: status, headers, and an optional delay before answering."""

    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A threaded HTTP server on 127.0.0.1 recording every POST; `reply` decides the answer."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.reply: Callable[[Received], Reply] = lambda _r: Reply()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                               self.rfile.read(length))
                with receiver._lock:
                    receiver.requests.append(got)
                answer = receiver.reply(got)
                if answer.delay_s:
                    time.sleep(answer.delay_s)
                try:
                    self.send_response(answer.status)
                    for k, v in answer.headers.items():
                        self.send_header(k, v)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # many pushes connect at once (the default backlog is 5)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook") -> str:
        """The receiver's URL for `path`."""
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def publish(container: Any, data: dict[str, Any]) -> list[int]:
    """Ingest an article and run the partner fan-out of its event; returns the delivery ids."""
    result = container.articles.ingest(data)
    assert result.event_id is not None, "the article did not change"
    event = ArticleEvent(
        event_id=result.event_id,
        type="article.published" if result.outcome.value == "created" else "article.updated",
        article_id=result.article.id,
        guid=result.article.guid,
    )
    return container.partner_pushes.fan_out(event)


def article(n: int = 1, **extra: Any) -> dict[str, Any]:
    """Article JSON number n."""
    return {"guid": f"g-{n}", "title": f"Story {n}", "body_text": f"Body {n}.", **extra}
