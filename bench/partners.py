"""Benchmark: signed partner pushes to a loopback receiver that answers after a latency.

Two parts, on a fresh PostgreSQL database each:

1. In process: N partners, one batch per article (`PartnerPushes.push`: lease in one commit, guard,
   sign, POST through the pinned transport, outcomes written as they arrive), all batches of a
   round in flight together on the process's PARTNER_CONCURRENCY slots, against raw
   `httpx.AsyncClient` POSTs of the very same bodies and headers at the same concurrency, on a
   loop of their own in the same process; two rounds, alternating.
2. Through a real `syndicate worker` on Redis: articles published one at a time, each timed from
   the event being handled (its deliveries written by the partner handler) to every partner's
   delivery recorded as delivered (after one untimed article that opens the connections); then a
   burst of articles for the rate, which also carries every other handler's work (feed rebuilds,
   digests) on the same worker. Prints the limit for
   that latency and concurrency (pushes in flight / latency) and the peak RSS per worker process.

    .venv/bin/python bench/partners.py [--latency-ms 200] [--partners 50] [--articles 20]
        [--concurrency N] [--quick]
Needs PostgreSQL (TEST_PG_ADMIN, default 127.0.0.1:5432) and Redis (127.0.0.1:6379).
BENCH_KEEP=1 keeps the worker's log.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from support import RssSampler, create_database, database_url, drop_database  # bench/support.py

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-key-0123456789"
# A webhook receiver: one asyncio process listening on one port per partner (partners are different
# hosts, so each is its own origin); every POST is answered 204 after BENCH_LATENCY_S.
RECEIVER = """
import asyncio, os, sys
import uvloop

LATENCY_S = float(os.environ["BENCH_LATENCY_S"])


async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            length = 0
            for line in head.split(b"\\r\\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if LATENCY_S:
                await asyncio.sleep(LATENCY_S)
            writer.write(b"HTTP/1.1 204 No Content\\r\\ncontent-length: 0\\r\\n\\r\\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    servers = [await asyncio.start_server(serve, "127.0.0.1", 0, backlog=1024)
               for _ in range(int(sys.argv[1]))]
    print(" ".join(str(s.sockets[0].getsockname()[1]) for s in servers), flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))

uvloop.run(main())
"""


def start_receiver(
    workdir: Path, latency_s: float, partners: int
) -> tuple[subprocess.Popen[bytes], list[str]]:
    """The receiver in its own process; returns it and one URL per partner (a port each)."""
    (workdir / "bench_receiver.py").write_text(RECEIVER)
    proc = subprocess.Popen(
        [sys.executable, str(workdir / "bench_receiver.py"), str(partners)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=os.environ | {"BENCH_LATENCY_S": str(latency_s)},
    )
    assert proc.stdout is not None
    ports = [int(p) for p in proc.stdout.readline().split()]
    if len(ports) != partners:
        raise SystemExit("the receiver did not start")
    return proc, [f"http://127.0.0.1:{port}/hook" for port in ports]


def article(n: int) -> dict[str, Any]:
    body = "<p>" + ("Paragraph of a newsroom story. " * 40) + "</p>"
    return {"guid": f"bench-{n}-{uuid.uuid4().hex[:6]}", "title": f"Bench story {n}",
            "body_html": body * 3, "categories": ["world"], "summary": "A story for the benchmark."}


# --- part 1: in process --------------------------------------------------------------------------

def in_process(container: Any, partners: int, articles: int, concurrency: int) -> tuple[float, float, int]:
    """Seconds through the service and through raw AsyncClient POSTs, and pushes each made."""
    from sqlalchemy import select

    from syndicate.domain.events import ArticleEvent
    from syndicate.partners.loop import LoopThread
    from syndicate.partners.secrets import signing_secrets
    from syndicate.partners.signing import signed_headers
    from syndicate.storage.partner_models import PartnerDeliveryRow, PartnerPayloadRow, PartnerRow

    batches: list[list[int]] = []
    for n in range(articles):
        result = container.articles.ingest(article(n))
        batches.append(container.partner_pushes.fan_out(ArticleEvent(
            result.event_id, "article.published", result.article.id, result.article.guid)))
    # The same bodies and headers, prepared before any timing.
    raw: dict[int, tuple[str, bytes, dict[str, str]]] = {}
    with container.session_factory() as session:
        now = datetime.now(UTC)
        for d, p, body in session.execute(
            select(PartnerDeliveryRow, PartnerRow, PartnerPayloadRow.body)
            .join(PartnerRow, PartnerRow.id == PartnerDeliveryRow.partner_id)
            .join(PartnerPayloadRow, PartnerPayloadRow.event_id == PartnerDeliveryRow.event_id)
        ).all():
            secrets = signing_secrets(p.secret, p.previous_secret, p.previous_secret_until, now=now)
            raw[d.id] = (p.url, body.encode(), signed_headers(d.webhook_id, now, body, secrets))

    loop = LoopThread("raw-httpx")
    state: dict[str, Any] = {}

    async def post_all(ids: list[int]) -> None:
        if "client" not in state:
            state["client"] = httpx.AsyncClient(
                timeout=30, limits=httpx.Limits(max_connections=concurrency,
                                                max_keepalive_connections=concurrency))
            state["slots"] = asyncio.Semaphore(concurrency)
        client, slots = state["client"], state["slots"]

        async def one(delivery_id: int) -> None:
            url, content, headers = raw[delivery_id]
            async with slots:
                for attempt in range(3):
                    try:
                        (await client.post(url, content=content, headers=headers)).raise_for_status()
                        return
                    except httpx.TransportError:
                        # A pooled connection closed under it: counted, and tried again (as our
                        # service would retry it later).
                        state["errors"] = state.get("errors", 0) + 1
                        if attempt == 2:
                            raise

        await asyncio.gather(*(one(i) for i in ids))

    # Two rounds, alternating, each on its own half of the articles: every batch of the round in
    # flight at once (as overlapping push tasks of one worker process are), against every POST
    # of the same deliveries through one raw AsyncClient at the same concurrency.
    service_s = raw_s = 0.0
    made = 0
    halves = [batches[: len(batches) // 2], batches[len(batches) // 2:]]
    try:
        with concurrent.futures.ThreadPoolExecutor(max(1, len(batches))) as pool:
            for half in halves:
                started = time.perf_counter()
                for outcomes in pool.map(container.partner_pushes.push, half):
                    made += sum(1 for o in outcomes.values() if o.value == "delivered")
                service_s += time.perf_counter() - started
                ids = [i for batch in half for i in batch]
                started = time.perf_counter()
                loop.run(lambda ids=ids: post_all(ids))  # type: ignore[misc]
                raw_s += time.perf_counter() - started
    finally:
        if "client" in state:
            loop.run(state["client"].aclose)
        loop.stop()
    if made != partners * articles:
        raise SystemExit(f"in process: {made} of {partners * articles} pushes delivered")
    if state.get("errors"):
        print(f"(raw AsyncClient: {state['errors']} transport errors, each POST tried again)")
    return service_s, raw_s, made


# --- part 2: through a real worker ---------------------------------------------------------------

def start_worker(env: dict[str, str], concurrency: int, log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "syndicate.cli.main", "worker",
         *(["--concurrency", str(concurrency)] if concurrency else [])],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while b" ready." not in log_path.read_bytes():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit(f"the worker did not start; see {log_path}")
        time.sleep(0.1)
    return proc


def delivered(container: Any, article_ids: list[int]) -> tuple[int, datetime | None]:
    """Delivered deliveries of these articles, and when the first of them was created (handled)."""
    from sqlalchemy import func, select

    from syndicate.storage.partner_models import PartnerDeliveryRow

    with container.session_factory() as session:
        count, first = session.execute(
            select(func.count().filter(PartnerDeliveryRow.status == "delivered"),
                   func.min(PartnerDeliveryRow.created_at))
            .where(PartnerDeliveryRow.article_id.in_(article_ids))
        ).one()
    return int(count), first


def wait_delivered(container: Any, article_ids: list[int], expected: int, timeout: float = 300) -> tuple[
        float, datetime]:
    """Poll (every 5 ms) until every delivery is delivered; returns the wall time then and the
    time the event was handled."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count, first = delivered(container, article_ids)
        if count >= expected and first is not None:
            return time.time(), first
        time.sleep(0.005)
    raise SystemExit(f"only {delivered(container, article_ids)[0]} of {expected} pushes delivered")


def through_worker(container: Any, partners: int, rounds: int, burst: int) -> dict[str, Any]:
    """Single articles (latency per article) then a burst (rate); figures in a dict."""
    latencies, since_ingest = [], []
    # One article first, untimed: the worker's first push opens a connection to every partner.
    warm = container.articles.ingest(article(999))
    wait_delivered(container, [warm.article.id], partners)
    for n in range(rounds):
        started = time.time()
        result = container.articles.ingest(article(1000 + n))
        done, handled = wait_delivered(container, [result.article.id], partners)
        latencies.append(done - handled.timestamp())
        since_ingest.append(done - started)
    ids = []
    for n in range(burst):
        ids.append(container.articles.ingest(article(2000 + n)).article.id)
    done, handled = wait_delivered(container, ids, partners * burst)
    burst_s = done - handled.timestamp()
    return {"latencies": latencies, "since_ingest": since_ingest, "burst_s": burst_s,
            "burst_pushes": partners * burst}


def main() -> None:
    """Run both parts and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=0.0, help="the receiver answers after this")
    parser.add_argument("--partners", type=int, default=50)
    parser.add_argument("--articles", type=int, default=20,
                        help="articles in the in-process part and in the burst")
    parser.add_argument("--rounds", type=int, default=10, help="single articles timed through the worker")
    parser.add_argument("--concurrency", type=int, default=0,
                        help="worker processes (default: the worker's own default, one per CPU)")
    parser.add_argument("--partner-concurrency", type=int, default=50, help="PARTNER_CONCURRENCY")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--quick", action="store_true", help="a few of everything (for tests)")
    args = parser.parse_args()
    if args.quick:
        args.partners, args.articles, args.rounds = min(args.partners, 10), 3, 2
    latency_s = args.latency_ms / 1000

    from syndicate.bootstrap import bootstrap
    from syndicate.partners.ports import PartnerInput
    from syndicate.settings import load_settings

    workdir = Path(tempfile.mkdtemp(prefix="bench-partners-"))
    receiver, urls = start_receiver(workdir, latency_s, args.partners)
    db_names: list[str] = []
    worker: subprocess.Popen[bytes] | None = None
    try:
        settings = {
            "REDIS_URL": args.redis_url, "CELERY_QUEUE": f"bench-{uuid.uuid4().hex[:8]}",
            "SECRET_KEY": SECRET, "ADMIN_TOKEN": SECRET, "BASE_URL": "https://news.example.com",
            "PARTNER_ALLOW_PRIVATE": "true", "PARTNER_CONCURRENCY": str(args.partner_concurrency),
            "DIGEST_HOUR": "24", "VAR_DIR": str(workdir / "var"),
        }

        def fresh_container() -> Any:
            db_names.append(create_database("bench_partners"))
            url = database_url(db_names[-1])
            os.environ.update(settings | {"DATABASE_URL": url})
            container = bootstrap(load_settings(), migrate=True)
            for i, url in enumerate(urls):
                container.partner_registry.add(PartnerInput(name=f"p{i}", url=url))
            return container

        # Part 1, in process.
        container = fresh_container()
        try:
            service_s, raw_s, made = in_process(container, args.partners, args.articles,
                                                args.partner_concurrency)
        finally:
            container.close()
        service_rate, raw_rate = made / service_s, made / raw_s

        # Part 2, a real worker.
        container = fresh_container()
        env = dict(os.environ)
        worker = start_worker(env, args.concurrency, workdir / "worker.log")
        sampler = RssSampler([worker.pid])
        sampler.start()
        try:
            figures = through_worker(container, args.partners, args.rounds, args.articles)
        finally:
            sampler.stopped.set()
            container.close()
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        receiver.terminate()
        receiver.wait(timeout=10)
        for name in db_names:
            drop_database(name)
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)

    processes = args.concurrency or os.cpu_count() or 1
    in_flight = args.partner_concurrency * processes
    lat = figures["latencies"]
    burst_rate = figures["burst_pushes"] / figures["burst_s"]
    print(f"# partner pushes: partners={args.partners} latency={args.latency_ms:g} ms "
          f"PARTNER_CONCURRENCY={args.partner_concurrency} worker processes={processes} db=postgresql")
    in_process_limit = (f", limit {args.partner_concurrency / latency_s:.0f} pushes/s, "
                        f"service/limit={service_rate * latency_s / args.partner_concurrency:.2f}"
                        if latency_s > 0 else "")
    print(f"in process: {made} pushes, service={service_rate:.0f} pushes/s "
          f"raw_asyncclient={raw_rate:.0f} posts/s ratio={service_rate / raw_rate:.2f}{in_process_limit}")
    print(f"one article to {args.partners} partners, event handled -> all delivered: "
          f"median {statistics.median(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms "
          f"over {len(lat)} articles (article stored -> all delivered: median "
          f"{statistics.median(figures['since_ingest']) * 1000:.0f} ms)")
    if latency_s > 0:
        floor_ms = args.latency_ms * -(-args.partners // in_flight)
        limit = in_flight / latency_s
        print(f"limit: {in_flight} in flight / {args.latency_ms:g} ms = {limit:.0f} pushes/s; "
              f"one article to {args.partners} partners cannot take less than {floor_ms:g} ms")
        print(f"burst: {figures['burst_pushes']} pushes ({args.articles} articles) in "
              f"{figures['burst_s']:.2f} s = {burst_rate:.0f} pushes/s, rate/limit={burst_rate / limit:.2f}")
    else:
        print(f"burst: {figures['burst_pushes']} pushes ({args.articles} articles) in "
              f"{figures['burst_s']:.2f} s = {burst_rate:.0f} pushes/s (no latency: no in-flight limit)")
    print(f"peak worker RSS = {sampler.peak_process_kb / 1024:.0f} MB per process")


if __name__ == "__main__":
    main()
