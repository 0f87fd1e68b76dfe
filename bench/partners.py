"""Benchmark: signed partner pushes per second to a local receiver with 1, 10 and 50 partners.

Each round publishes articles to N partners (all on one local receiver), then times
`service.attempt` per delivery (lease the row, guard check, sign, POST through the pinned
transport, record the outcome: two commits) against raw httpx POSTs of the very same bodies and
headers, alternating in chunks of 25 within the same run.

    .venv/bin/python bench/partners.py [--quick] [--pushes 2000]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]   # a fresh database per round
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from syndicate.bootstrap import bootstrap  # noqa: E402
from syndicate.domain.events import ArticleEvent  # noqa: E402
from syndicate.partners.ports import PartnerInput  # noqa: E402
from syndicate.partners.secrets import signing_secrets  # noqa: E402
from syndicate.partners.signing import signed_headers  # noqa: E402
from syndicate.settings import load_settings  # noqa: E402
from syndicate.storage.partner_models import (  # noqa: E402
    PartnerDeliveryRow,
    PartnerPayloadRow,
    PartnerRow,
)

CHUNK = 25
RECEIVER = '''
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_receiver(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A uvicorn receiver answering 204 in its own process."""
    (workdir / "bench_receiver.py").write_text(RECEIVER)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench_receiver:app", "--app-dir", str(workdir),
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the receiver did not start")


def article(n: int) -> dict[str, Any]:
    body = "<p>" + ("Paragraph of a newsroom story. " * 40) + "</p>"
    return {"guid": f"bench-{n}", "title": f"Bench story {n}", "body_html": body * 3,
            "categories": ["world"], "summary": "A story for the benchmark."}


@contextmanager
def database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one round (dropped after), or "" for embedded SQLite."""
    if not admin_url:
        yield ""
        return
    import psycopg

    name = f"bench_partners_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def one_round(partners: int, pushes: int, base_url: str, database_url: str, workdir: Path) -> str:
    var_dir = Path(tempfile.mkdtemp(prefix=f"p{partners}-", dir=workdir))
    container = bootstrap(load_settings(
        var_dir=var_dir, database_url=database_url, secret_key="bench-secret-key-0123456789",
        admin_token="bench-admin-token-0123456789", partner_allow_private=True,
    ), migrate=True)
    try:
        for i in range(partners):
            container.partner_registry.add(PartnerInput(name=f"p{i}", url=f"{base_url}/p/{i}"))
        articles = max(1, pushes // partners)
        fan_s = 0.0
        for n in range(articles):
            result = container.articles.ingest(article(n))
            if result.event_id is None:
                raise SystemExit(f"article {n} was not stored as new")
            started = time.perf_counter()
            container.partner_pushes.fan_out(ArticleEvent(
                result.event_id, "article.published", result.article.id, result.article.guid))
            fan_s += time.perf_counter() - started
        total = articles * partners

        # The same bodies and headers, prepared before any timing, in the order the service sends.
        ids = container.partner_pushes.store.due(now=container.now(), limit=total)
        with container.session_factory() as session:
            rows = {
                d.id: (d, p) for d, p in session.execute(
                    select(PartnerDeliveryRow, PartnerRow).join(
                        PartnerRow, PartnerRow.id == PartnerDeliveryRow.partner_id)
                ).all()
            }
            now = container.now()
            raw: dict[int, tuple[str, bytes, dict[str, str]]] = {}
            for delivery_id in ids:
                d, p = rows[delivery_id]
                body = session.execute(
                    select(PartnerPayloadRow.body).where(PartnerPayloadRow.event_id == d.event_id)
                ).scalar_one()
                secrets = signing_secrets(p.secret, p.previous_secret, p.previous_secret_until, now=now)
                raw[delivery_id] = (p.url, body.encode(), signed_headers(d.webhook_id, now, body, secrets))
        if len(ids) != total:
            raise SystemExit(f"expected {total} due deliveries, found {len(ids)}")

        # Chunks alternate between the two paths so load from other processes hits both alike.
        service_s = raw_s = 0.0
        with httpx.Client(timeout=15) as client:
            for start in range(0, total, CHUNK):
                chunk = ids[start:start + CHUNK]
                started = time.perf_counter()
                for delivery_id in chunk:
                    if container.partner_pushes.attempt(delivery_id, enqueue_next=False) != "delivered":
                        raise SystemExit(f"delivery {delivery_id} was not delivered")
                service_s += time.perf_counter() - started
                started = time.perf_counter()
                for delivery_id in chunk:
                    url, content, headers = raw[delivery_id]
                    client.post(url, content=content, headers=headers).raise_for_status()
                raw_s += time.perf_counter() - started
    finally:
        container.close()
    service_rate, raw_rate = total / service_s, total / raw_s
    return (f"partners={partners} pushes={total} fanout={total / fan_s:.0f} rows/s "
            f"service={service_rate:.0f} pushes/s raw_httpx={raw_rate:.0f} posts/s "
            f"ratio={service_rate / raw_rate:.2f}")


def main() -> None:
    """Run the rounds and print one line per partner count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few pushes per round (for tests)")
    parser.add_argument("--pushes", type=int, default=2000, help="pushes per round")
    parser.add_argument("--postgres", default="", metavar="ADMIN_URL",
                        help="run on PostgreSQL (fresh database per round); default embedded SQLite")
    args = parser.parse_args()
    pushes = 50 if args.quick else args.pushes
    with tempfile.TemporaryDirectory(prefix="bench-partners-") as tmp:
        workdir = Path(tmp)
        receiver, base_url = start_receiver(workdir)
        try:
            db = "postgresql" if args.postgres else "sqlite"
            print(f"# partner pushes, sequential, one process, db={db}", flush=True)
            for partners in (1, 10, 50):
                with database(args.postgres) as url:
                    print(one_round(partners, pushes, base_url, url, workdir), flush=True)
        finally:
            receiver.terminate()
            receiver.wait(timeout=10)


if __name__ == "__main__":
    main()
