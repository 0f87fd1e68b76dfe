"""Feeds benchmark: (a) publish-to-feed-file latency vs stored articles, (b) serving rate vs nginx.

    .venv/bin/python bench/feeds.py [--quick]

(a) For each store size (100, 10,000, 100,000; --quick: 100, 1,000, 3,000) articles are
bulk-inserted with SQL into a fresh embedded SQLite database, every feed is built once (as after
`syndicate feeds build`), then each sample publishes one new article (`ingest`) and rebuilds its
feeds as the worker task does, until the site-wide Atom file holds its guid. Samples alternate
between the three stores so that load from elsewhere hits them alike. The broker hop of the
worker is not included: it does not depend on the store size.
(b) `syndicate serve --no-worker` and nginx serve the same built rss.xml on 127.0.0.1; the same
keep-alive raw-socket client (several processes, fixed duration) measures req/s for a 200 and
for a 304 (If-None-Match with each server's own ETag). Everything stops by itself.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from syndicate.bootstrap import Container, bootstrap  # noqa: E402
from syndicate.feeds.service import feeds_root  # noqa: E402
from syndicate.settings import load_settings  # noqa: E402
from syndicate.storage.models import ArticleCategoryRow, ArticleRow  # noqa: E402

HOST = "127.0.0.1"
# Two categories and two languages: with 100 stored articles every feed a new article enters is
# already full (FEED_ITEMS=50), so the sizes compare equal feed lengths and isolate the store size.
CATEGORIES = ("world", "politics")
LANGUAGES = ("en", "ru")
BODY = "<p>" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 12 + "</p>"


def _container(var_dir: Path) -> Container:
    # Embedded on purpose (SQLite, file broker), whatever DATABASE_URL/REDIS_URL the shell has.
    settings = load_settings(var_dir=var_dir, database_url="", redis_url=None, public_dir=None,
                             base_url="http://127.0.0.1:8000", secret_key="bench-secret-key-0123456789",
                             admin_token="bench-admin-token-0123456789")
    return bootstrap(settings, migrate=True)


def bulk_insert(container: Container, count: int) -> None:
    """Insert `count` articles (one hour apart, ending yesterday) straight into the tables."""
    start = datetime.now(UTC) - timedelta(days=1, hours=count)
    batch = 5000
    with container.engine.begin() as conn:
        for offset in range(0, count, batch):
            rows, cats = [], []
            for n in range(offset, min(offset + batch, count)):
                at = start + timedelta(hours=n)
                rows.append({
                    "id": n + 1, "guid": f"bench:{n}", "slug": f"bench-{n}", "title": f"Bench article {n}",
                    "summary": f"Summary {n}", "body_html": BODY, "url": None, "published_at": at,
                    "updated_at": at, "language": LANGUAGES[n % len(LANGUAGES)], "authors": ["Bench"],
                    "images": [], "translation_of": None, "content_hash": f"{n:064d}", "created_at": at,
                })
                cats.append({"article_id": n + 1, "category": CATEGORIES[n % len(CATEGORIES)],
                             "position": 0})
            conn.execute(insert(ArticleRow), rows)
            conn.execute(insert(ArticleCategoryRow), cats)


class Store:
    """One embedded install holding `stored` articles, with every feed built."""

    def __init__(self, stored: int) -> None:
        self.stored = stored
        self.var_dir = Path(tempfile.mkdtemp(prefix=f"bench-feeds-{stored}-"))
        self.container = _container(self.var_dir)
        bulk_insert(self.container, stored)
        settings = self.container.settings
        self.service = self.container.feed_service(feeds_root(settings))
        # The state after `syndicate feeds build` (every archive page cut); old page files are
        # not rendered, which changes nothing the publishes below touch.
        self.service.build_all(all_pages=False)
        self.atom = feeds_root(settings) / "atom.xml"

    def publish(self, n: int) -> float:
        """Seconds from ingest() to the site Atom file holding the new article."""
        guid = f"bench:new:{self.stored}:{n}"
        began = time.perf_counter()
        result = self.container.articles.ingest({
            "guid": guid, "title": f"New article {n}", "body_html": BODY,
            "categories": [CATEGORIES[n % len(CATEGORIES)]], "language": LANGUAGES[n % len(LANGUAGES)],
        })
        self.service.rebuild_article(result.article.id)
        elapsed = time.perf_counter() - began
        if guid.encode() not in self.atom.read_bytes():
            raise SystemExit(f"site feed does not hold {guid} after the rebuild")
        return elapsed

    def close(self) -> None:
        """Dispose of the engine and delete the install."""
        self.container.close()
        shutil.rmtree(self.var_dir, ignore_errors=True)


def publish_latencies(sizes: tuple[int, ...], samples: int) -> dict[int, float]:
    """Median publish-to-file seconds per store size; samples alternate between the sizes."""
    stores = []
    try:
        for stored in sizes:
            stores.append(Store(stored))
        times: dict[int, list[float]] = {stored: [] for stored in sizes}
        # Round-robin: a burst of load from elsewhere on the machine hits every size alike.
        for n in range(samples):
            for store in stores:
                times[store.stored].append(store.publish(n))
        return {stored: statistics.median(values) for stored, values in times.items()}
    finally:
        for store in stores:
            store.close()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection((HOST, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _client(port: int, request: bytes, deadline: float, counter: mp.Value, status: bytes) -> None:  # type: ignore[type-arg]
    done = 0
    sock = _connect(port)
    buf = b""
    while time.monotonic() < deadline:
        try:
            sock.sendall(request)
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionResetError("closed")
                buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            # The server ended the keep-alive connection; open another one, as a browser would.
            sock.close()
            sock, buf = _connect(port), b""
            continue
        head, _, buf = buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 " + status):
            raise SystemExit(f"unexpected answer on port {port}: {head[:60]!r}")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(buf) < length:
            buf += sock.recv(65536)
        buf = buf[length:]
        done += 1
    sock.close()
    with counter.get_lock():
        counter.value += done


def rate(port: int, path: str, seconds: float, clients: int, etag: str | None = None) -> float:
    """Requests per second from `clients` keep-alive connections for `seconds`."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}", "Accept: */*"]
    if etag:
        lines.append(f"If-None-Match: {etag}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    counter = mp.Value("q", 0)
    deadline = time.monotonic() + seconds
    status = b"304" if etag else b"200"
    procs = [mp.Process(target=_client, args=(port, request, deadline, counter, status))
             for _ in range(clients)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(seconds + 30)
        if p.is_alive():
            p.kill()
    return counter.value / seconds


def _etag(port: int, path: str) -> str:
    with socket.create_connection((HOST, port), timeout=5) as sock:
        sock.sendall(f"HEAD {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    for line in data.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"etag":
            return value.strip().decode()
    raise SystemExit(f"no ETag from port {port}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on {HOST}:{port} after {timeout}s")


def _nginx(public: Path, port: int, work: Path) -> subprocess.Popen[bytes]:
    conf = work / "nginx.conf"
    conf.write_text(f"""
daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off; keepalive_requests 1000000;
  client_body_temp_path {work}/body; proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi; uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
  types {{ application/rss+xml xml; }}
  charset utf-8; charset_types application/rss+xml;
  server {{ listen {HOST}:{port}; root {public}; location /feeds/.locks/ {{ return 404; }} }}
}}
""")
    return subprocess.Popen(["nginx", "-c", str(conf), "-p", str(work)], stderr=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def serving(seconds: float, clients: int, rounds: int) -> dict[str, float]:
    """Req/s of the app and of nginx for one feed file, for a 200 and a 304."""
    if shutil.which("nginx") is None:
        raise SystemExit("nginx is not installed (Debian package nginx)")
    var_dir = Path(tempfile.mkdtemp(prefix="bench-feeds-serve-"))
    var_dir.chmod(0o755)  # nginx workers run as an unprivileged user
    procs: list[subprocess.Popen[bytes]] = []
    try:
        container = _container(var_dir)
        bulk_insert(container, 100)
        container.feed_service(feeds_root(container.settings)).build_all()
        container.close()
        app_port, nginx_port = _free_port(), _free_port()
        env = {**os.environ, "VAR_DIR": str(var_dir), "SECRET_KEY": "bench-secret-key-0123456789",
               "ADMIN_TOKEN": "bench-admin-token-0123456789", "PYTHONUNBUFFERED": "1"}
        for name in ("DATABASE_URL", "REDIS_URL", "PUBLIC_DIR", "BASE_URL"):
            env.pop(name, None)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "syndicate.cli.main", "serve", "--no-worker", "--host", HOST,
             "--port", str(app_port)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))
        procs.append(_nginx(container.settings.public_path, nginx_port, var_dir))
        _wait_port(app_port)
        _wait_port(nginx_port)
        path = "/feeds/rss.xml"
        size = (feeds_root(container.settings) / "rss.xml").stat().st_size
        print(f"serving {path} ({size} bytes), {clients} keep-alive clients, "
              f"{rounds} x {seconds:g}s per figure")
        servers = (("app", app_port), ("nginx", nginx_port))
        etags = {name: _etag(port, path) for name, port in servers}
        for _, port in servers:
            rate(port, path, min(seconds, 1.0), clients)  # warm-up
        # Alternate the servers over several rounds and keep each one's median: the machine is
        # shared, so a burst of other load hits both sides instead of one.
        runs: dict[str, list[float]] = {}
        for _ in range(rounds):
            for name, port in servers:
                runs.setdefault(f"{name}_200", []).append(rate(port, path, seconds, clients))
                runs.setdefault(f"{name}_304", []).append(
                    rate(port, path, seconds, clients, etag=etags[name]))
        return {key: statistics.median(values) for key, values in runs.items()}
    finally:
        for proc in procs:
            _stop(proc)
        shutil.rmtree(var_dir, ignore_errors=True)


def main() -> None:
    """Run both benchmarks and print figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and short runs (smoke test)")
    args = parser.parse_args()
    sizes = (100, 1_000, 3_000) if args.quick else (100, 10_000, 100_000)
    samples = 5 if args.quick else 31
    print("== (a) publish-to-feed-file latency (median of", samples, "publishes)")
    medians = publish_latencies(sizes, samples)
    for stored in sizes:
        print(f"stored={stored:>7}  median={medians[stored] * 1000:8.1f} ms")
    base, top = medians[sizes[0]], medians[sizes[-1]]
    verdict = "ok" if top <= 1.5 * base else "MISSED"
    print(f"ratio latency {sizes[-1]}/{sizes[0]} = {top / base:.2f} (target <= 1.5: {verdict})")
    print("== (b) serving rate, syndicate serve vs nginx, same client, same file")
    figures = serving(1.0 if args.quick else 3.0, 4, 1 if args.quick else 5)
    for key, value in figures.items():
        print(f"{key:>10} = {value:9.0f} req/s")
    for kind in ("200", "304"):
        share = figures[f"app_{kind}"] / figures[f"nginx_{kind}"]
        verdict = "ok" if share >= 0.30 else "MISSED"
        print(f"ratio rate {kind} app/nginx = {share:.2f} (target >= 0.30: {verdict})")
    print(json.dumps({"latency_ms": {k: round(v * 1000, 2) for k, v in medians.items()},
                      "rates": {k: round(v) for k, v in figures.items()}}))


if __name__ == "__main__":
    main()
