"""Fan-out benchmark: N subscribers -> real Celery worker(s) on Redis -> postfix's smtp-sink.

In the same run it measures the ceiling (pre-built messages of the same size pushed through the
same number of smtplib connections), the raw limit of one connection
(pre-built messages over a raw socket, pipelined, one round trip per message) and the naive path
(Jinja render + premailer + EmailMessage per recipient), then prints messages/s for each, the
ratios (the fan-out per worker process against the raw limit), the workers' peak RSS, and the CPU
per message of the worker processes, PostgreSQL and the mail server during the fan-out (with how
busy they kept the cores: near 100 % the run is CPU-bound, and only less work per message makes
it faster).

The fan-out runs `--runs` times (3), each time to a list of its own readers, and each run is
followed at once by a ceiling run and a raw-limit run: the ratios compare the median fan-out with
the median ceiling and the median raw limit, so a burst of load from elsewhere on the machine
that slows one run does not set them.

    .venv/bin/python bench/fanout.py                 # 20,000 subscribers, 2 worker processes
    .venv/bin/python bench/fanout.py -n 200000 --runs 1   # memory flatness
    .venv/bin/python bench/fanout.py --quick         # a few hundred, for the test suite
    .venv/bin/python bench/fanout.py --concurrency 1 # one worker process against the raw limit
    .venv/bin/python bench/fanout.py -n 2000 --latency-ms 50   # a mail server 50 ms away
Needs PostgreSQL (TEST_PG_ADMIN, default 127.0.0.1:5432), Redis (127.0.0.1:6379) and
`smtp-sink` (Debian package postfix).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from support import CpuMeter, RssSampler, create_database, database_url, drop_database  # bench/support.py

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "examples" / "csto-anniversary.txt"
SECRET = "bench-secret-key-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class Sink:
    """postfix's smtp-sink on a free loopback port; counts messages from its -c counter."""

    def __init__(self) -> None:
        binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        if not Path(binary).exists():
            raise SystemExit("smtp-sink not found: install the Debian package postfix")
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the sink)
        self.proc = subprocess.Popen([binary, "-u", "nobody", "-c", f"127.0.0.1:{self.port}", "1000"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port)

    def messages(self) -> int:
        self.log.seek(0)
        found = re.findall(rb"mesg=(\d+)", self.log.read())
        return int(found[-1]) if found else 0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _latent_sink(port: int, latency_s: float, counter: Any, ready: Any) -> None:
    """A minimal SMTP server (asyncio): EHLO offers PIPELINING, every command is accepted, and
    each message's end of data is answered after `latency_s`; counts accepted messages."""
    import asyncio

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 bench ESMTP\r\n")
        try:
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb == b"EHLO":
                    writer.write(b"250-bench\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 end with <CRLF>.<CRLF>\r\n")
                    await writer.drain()
                    await reader.readuntil(b"\r\n.\r\n")
                    await asyncio.sleep(latency_s)
                    with counter.get_lock():
                        counter.value += 1
                    writer.write(b"250 accepted\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    return
                else:  # HELO, MAIL, RCPT, RSET, NOOP
                    writer.write(b"250 ok\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(session, "127.0.0.1", port, limit=1 << 22, backlog=512)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class LatentSink:
    """A mail server that answers each message's end of data after `latency_s`, as a server far
    away does; runs in a process of its own and counts the messages it accepted.

    Not aiosmtpd: it reads DATA a line at a time in Python, and on this machine it could not
    take more than about 250 messages/s of this size from 20 connections, below the 400/s limit
    being measured. This one reads a message's data in one call.
    """

    def __init__(self, latency_s: float) -> None:
        ctx = multiprocessing.get_context("fork")
        self.port = free_port()
        self.counter = ctx.Value("q", 0)
        ready = ctx.Event()
        self.proc = ctx.Process(target=_latent_sink, args=(self.port, latency_s, self.counter, ready),
                                daemon=True)
        self.proc.start()
        if not ready.wait(10):
            raise SystemExit("the latency mail server did not start")

    def messages(self) -> int:
        return int(self.counter.value)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(timeout=10)


def seed(container: Any, n: int, lists: int = 1) -> list[str]:
    """`lists` lists of n confirmed subscribers each, nobody on two (a reader is never mailed a
    story twice), and the sample article published now; returns the lists' slugs (bench-1...)."""
    from sqlalchemy import insert

    from syndicate.digests import subscribers as subs
    from syndicate.storage.digest_models import SubscriberRow, SubscriptionRow

    now = datetime.now(UTC)
    for k in range(1, lists + 1):
        lst = subs.create_list(container.digest_uow, slug=f"bench-{k}", name="Bench digest",
                               frequency="daily", language=None, categories=[], custom_frequency=False,
                               now=now)
        with container.session_factory() as session:
            for start in range(0, n, 10_000):
                chunk = range(start, min(n, start + 10_000))
                ids = session.execute(insert(SubscriberRow).returning(SubscriberRow.id), [
                    {"email": f"reader{i}@bench{k}.example.com", "name": "", "language": "en",
                     "status": "active", "created_at": now} for i in chunk]).scalars().all()
                session.execute(insert(SubscriptionRow), [
                    {"subscriber_id": sid, "list_id": lst.id, "status": "active", "created_at": now}
                    for sid in ids])
                session.commit()
    container.articles.import_file(SAMPLE, overrides={"published_at": now.isoformat()})
    return [f"bench-{k}" for k in range(1, lists + 1)]


def start_workers(
    env: dict[str, str], count: int, concurrency: int, logdir: Path
) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(count):
        log = (logdir / f"worker-{i}.log").open("wb")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "syndicate.cli.main", "worker", "--concurrency", str(concurrency)],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
    deadline = time.monotonic() + 60
    for i in range(count):
        while b" ready." not in (logdir / f"worker-{i}.log").read_bytes():
            if time.monotonic() > deadline:
                raise SystemExit(f"worker {i} did not start; see {logdir}/worker-{i}.log")
            time.sleep(0.1)
    return procs


def _push_prebuilt(args: tuple[int, int, bytes]) -> int:
    port, count, data = args
    conn = smtplib.SMTP("127.0.0.1", port)
    for i in range(count):
        conn.sendmail("news@bench.example.com", [f"reader{i}@bench.example.com"], data)
    conn.quit()
    return count


def _push_raw_pipelined(args: tuple[int, int, bytes]) -> int:
    """The one-connection limit: pre-built messages over a raw socket with RFC 2920 pipelining,
    the end of each message's data and the next MAIL/RCPT/DATA in one write (one round trip per
    message). `data` must already be dot-stuffed and end with CRLF."""
    port, count, data = args
    sock = socket.create_connection(("127.0.0.1", port))
    replies = sock.makefile("rb")

    def reply() -> bytes:
        while True:
            line = replies.readline()
            if line[3:4] != b"-":
                if not line.startswith((b"2", b"3")):
                    raise SystemExit(f"raw client: unexpected reply {line!r}")
                return line

    def envelope(i: int) -> bytes:
        return (f"MAIL FROM:<news@bench.example.com>\r\n"
                f"RCPT TO:<reader{i}@bench.example.com>\r\nDATA\r\n").encode()

    reply()
    sock.sendall(b"EHLO bench.example.com\r\n")
    reply()
    sock.sendall(envelope(0))
    for i in range(count):
        reply(), reply(), reply()
        sock.sendall(data + b".\r\n" + (envelope(i + 1) if i + 1 < count else b"QUIT\r\n"))
        reply()
    sock.close()
    return count


def _naive(args: tuple[int, int, list[Any], str]) -> int:
    from syndicate.mail.render import render_edition

    port, count, articles, base_url = args
    conn = smtplib.SMTP("127.0.0.1", port)
    for i in range(count):
        email = f"reader{i}@bench.example.com"
        rendered = render_edition(list_name="Bench digest", frequency="daily", articles=articles,
                                  language="en", base_url=base_url, max_html_bytes=100_000)
        msg = EmailMessage()
        msg["From"] = "Newsroom <news@bench.example.com>"
        msg["To"] = email
        msg["Subject"] = rendered.subject
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = make_msgid(domain="bench.example.com")
        msg["List-Unsubscribe"] = f"<{base_url}/unsubscribe/{i}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(rendered.text.replace("ZQX", "x"), cte="quoted-printable")
        msg.add_alternative(rendered.html.replace("ZQX", "x"), subtype="html", cte="quoted-printable")
        conn.sendmail("news@bench.example.com", [email], msg.as_bytes(policy=policy.SMTP))
    conn.quit()
    return count


def parallel(func: Any, jobs: list[Any]) -> float:
    """Run jobs in as many processes; returns wall seconds."""
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(len(jobs)) as pool:
        start = time.perf_counter()
        pool.map(func, jobs)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--subscribers", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=1, help="worker commands started")
    parser.add_argument("--concurrency", type=int, default=2, help="processes per worker")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--naive", type=int, default=2_000, help="messages for the naive path")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--quick", action="store_true", help="300 subscribers, for tests")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="the mail server answers each message's data after this long (not smtp-sink)")
    parser.add_argument("--smtp-connections", type=int, default=10, help="SMTP_CONNECTIONS per process")
    parser.add_argument("--runs", type=int, default=3,
                        help="fan-out runs (each to n readers of its own), each followed by a ceiling run")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"--runs must be 1 or more, got {args.runs}")
    n = 300 if args.quick else args.subscribers
    naive_n = min(n, 200 if args.quick else args.naive)
    connections = args.workers * args.concurrency

    from syndicate.bootstrap import bootstrap
    from syndicate.digests.batch import recipient_for
    from syndicate.digests.edition_mail import EditionMail, render_template
    from syndicate.digests.ports import ClaimedDelivery
    from syndicate.digests.tokens import Signer
    from syndicate.mail.smtp_pipeline import dot_stuffed
    from syndicate.settings import load_settings

    latency_s = args.latency_ms / 1000
    sink: Sink | LatentSink = LatentSink(latency_s) if latency_s > 0 else Sink()
    db_name = create_database("syndicate_bench")
    workdir = Path(tempfile.mkdtemp(prefix="fanout-bench-"))
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    db_url = database_url(db_name)
    settings = {
        "DATABASE_URL": db_url, "REDIS_URL": args.redis_url, "CELERY_QUEUE": queue,
        "SMTP_URL": f"smtp://127.0.0.1:{sink.port}", "SECRET_KEY": SECRET, "ADMIN_TOKEN": SECRET,
        "VAR_DIR": str(workdir / "var"), "MAIL_BATCH_SIZE": str(args.batch_size),
        "BASE_URL": "https://news.example.com", "MAIL_FROM": "Newsroom <news@news.example.com>",
        "DIGEST_HOUR": "24", "MAIL_SWEEP_SECONDS": "3600",
        "SMTP_CONNECTIONS": str(args.smtp_connections),
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # The Celery app also configures itself from the environment when first used: keep both equal.
        os.environ.update(settings)
        container = bootstrap(load_settings(), migrate=True)
        t = time.perf_counter()
        slugs = seed(container, n, args.runs)
        print(f"seeded {args.runs} x {n} subscribers in {time.perf_counter() - t:.1f} s", flush=True)
        env = {k: v for k, v in os.environ.items() if k not in settings} | settings
        procs = start_workers(env, args.workers, args.concurrency, workdir)
        sampler = RssSampler([p.pid for p in procs])
        sampler.start()
        cpu = CpuMeter([p.pid for p in procs], sink.proc.pid)
        fan_runs: list[float] = []
        ceiling_runs: list[float] = []
        raw_runs: list[float] = []
        raw_n = min(n, 20_000)
        sample = b""
        per = [n // connections + (1 if i < n % connections else 0) for i in range(connections)]
        for k, slug in enumerate(slugs, 1):
            before = sink.messages()
            cpu.start()
            start = time.perf_counter()
            edition_id = container.digests.send_now(slug, since=datetime.now(UTC) - timedelta(days=1))
            assert edition_id is not None, "no edition was built"
            while container.deliveries().has_pending(edition_id):
                time.sleep(0.05)
            counts = container.digests.edition_counts(edition_id)
            fan_runs.append(time.perf_counter() - start)
            cpu.stop()
            received = sink.messages() - before
            if counts["sent"] != n or received < n:
                raise SystemExit(f"fan-out {k} incomplete: ledger {counts}, "
                                 f"the mail server counted {received}")
            if latency_s > 0:
                continue
            if not sample:
                content = container.deliveries().edition_content(edition_id)
                tpl = render_template(container.settings, content, "en")
                sample = tpl.for_recipient(recipient_for(
                    container.settings, Signer(SECRET), EditionMail(content),
                    ClaimedDelivery(1, 1, "reader0@bench1.example.com", "", "en", 1, True),
                    datetime.now(UTC)))
            # Right after its fan-out: on this shared machine the same run's CPU per message moved
            # by up to 40 % within minutes, so a ceiling measured apart from the fan-out measured
            # a different machine.
            ceiling_runs.append(parallel(_push_prebuilt, [(sink.port, count, sample) for count in per]))
            # The raw limit too: one measurement after all runs moved with the machine as much.
            raw_runs.append(parallel(_push_raw_pipelined, [(sink.port, raw_n, dot_stuffed(sample))]))
        sampler.stopped.set()
        sampler.join()
        if latency_s > 0:
            report_latency(args, n, fan_runs, latency_s, connections, sampler)
            print(cpu.report(n * args.runs))
            return
        fan_s, ceiling_s = statistics.median(fan_runs), statistics.median(ceiling_runs)
        raw_s = statistics.median(raw_runs)

        reads = container.digest_reads
        articles = reads.edition_articles(reads.edition(edition_id))
        per_naive = [naive_n // connections + (1 if i < naive_n % connections else 0)
                     for i in range(connections)]
        naive_s = parallel(_naive, [(sink.port, k, articles, "https://news.example.com") for k in per_naive])
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        sink.stop()
        drop_database(db_name)
        shutil.rmtree(workdir, ignore_errors=True)

    fan_rate, ceiling_rate, naive_rate = n / fan_s, n / ceiling_s, naive_n / naive_s
    peak_mb = sampler.peak_process_kb / 1024
    print(f"subscribers={n} connections={connections} batch={args.batch_size} message_bytes={len(sample)}")
    print(f"fanout: {n} messages in {fan_s:.2f} s = {fan_rate:.0f} msg/s ({_runs(n, fan_runs)})")
    print(f"ceiling: {n} pre-built messages in {ceiling_s:.2f} s = {ceiling_rate:.0f} msg/s "
          f"({_runs(n, ceiling_runs)})")
    print(f"naive: {naive_n} rendered messages in {naive_s:.2f} s = {naive_rate:.0f} msg/s")
    raw_rate = raw_n / raw_s
    per_process = fan_rate / connections
    print(f"raw limit: {raw_n} pre-built messages, one pipelined raw connection, one round trip each, "
          f"in {raw_s:.2f} s = {raw_rate:.0f} msg/s ({_runs(raw_n, raw_runs)})")
    print(f"fanout/ceiling = {fan_rate / ceiling_rate:.2f} (target >= 0.70: the same number of "
          f"smtplib connections, one per worker process)")
    print(f"fanout per worker process = {per_process:.0f} msg/s; /raw limit = {per_process / raw_rate:.2f} "
          f"(target >= 0.50)")
    print(f"fanout/naive = {fan_rate / naive_rate:.1f}x (target >= 8x)")
    print(f"peak worker RSS = {peak_mb:.0f} MB per process, {sampler.peak_total_kb / 1024:.0f} MB all "
          f"worker processes (target <= 150 MB per process)")
    print(cpu.report(n * args.runs))


def _runs(n: int, seconds: list[float]) -> str:
    """'median of 3812, 3977, 4020' (msg/s of each run), or 'one run'."""
    if len(seconds) == 1:
        return "one run"
    return "median of " + ", ".join(f"{n / s:.0f}" for s in seconds)


def report_latency(args: argparse.Namespace, n: int, fan_runs: list[float], latency_s: float,
                   processes: int, sampler: RssSampler) -> None:
    """At a latency the limit is the connections in flight over the reply time."""
    in_flight = processes * args.smtp_connections
    limit = in_flight / latency_s
    fan_s = statistics.median(fan_runs)
    rate = n / fan_s
    print(f"subscribers={n} worker processes={processes} SMTP_CONNECTIONS={args.smtp_connections} "
          f"latency={args.latency_ms:g} ms")
    print(f"fanout: {n} messages in {fan_s:.2f} s = {rate:.0f} msg/s ({_runs(n, fan_runs)})")
    print(f"limit: {in_flight} connections / {args.latency_ms:g} ms = {limit:.0f} msg/s")
    print(f"fanout/limit = {rate / limit:.2f}")
    print(f"peak worker RSS = {sampler.peak_process_kb / 1024:.0f} MB per process")


if __name__ == "__main__":
    main()
