"""Threads or asyncio for the SMTP connection pool: the same pre-built messages sent over N
connections by syndicate's threaded transport (smtplib, pipelined, one thread per connection)
and by aiosmtplib (one task per connection, one event loop), at 0 ms and at a latency.

Prints, per mode and latency, messages/s, the limit (connections / latency), CPU per message in
this process, and the ratio asyncio / threads. No database, no worker: only the pool's own cost.

    .venv/bin/python bench/smtp_pool.py                   # 10 connections, 0 and 50 ms
    .venv/bin/python bench/smtp_pool.py --connections 20 --latency-ms 50 -n 4000
Needs `smtp-sink` (Debian package postfix) for 0 ms; the latency server is bench/fanout.py's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fanout import LatentSink, Sink  # bench/fanout.py, next to this file

SENDER = "news@bench.example.com"
MESSAGE = (b"From: news@bench.example.com\r\nTo: reader@bench.example.com\r\nSubject: bench\r\n\r\n"
           + b"".join(b"line %05d " % i + b"x" * 60 + b"\r\n" for i in range(170)))


def cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def with_threads(port: int, connections: int, n: int) -> float:
    """Send n messages over `connections` SmtpTransports, one thread each; returns seconds."""
    from syndicate.mail.smtp import SmtpTransport

    left = iter(range(n))
    lock = threading.Lock()

    def take() -> int | None:
        with lock:
            return next(left, None)

    def connection() -> None:
        with SmtpTransport(f"smtp://127.0.0.1:{port}") as smtp:
            i = take()
            while i is not None:
                following = take()
                then = f"reader{following}@bench.example.com" if following is not None else None
                result = smtp.send(SENDER, f"reader{i}@bench.example.com", MESSAGE, then)
                if not result.ok:
                    raise SystemExit(f"threads: {result.describe()}")
                i = following

    threads = [threading.Thread(target=connection) for _ in range(connections)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def with_asyncio(port: int, connections: int, n: int) -> float:
    """Send n messages over `connections` aiosmtplib clients on one event loop; returns seconds."""
    import aiosmtplib

    async def run() -> None:
        left = iter(range(n))

        async def connection() -> None:
            smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
            await smtp.connect()
            try:
                while (i := next(left, None)) is not None:
                    await smtp.sendmail(SENDER, [f"reader{i}@bench.example.com"], MESSAGE)
            finally:
                await smtp.quit()

        await asyncio.gather(*(connection() for _ in range(connections)))

    start = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--messages", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, action="append",
                        help="mail server latency; repeat for several (default: 0 and 50)")
    args = parser.parse_args()
    for latency_ms in args.latency_ms or [0.0, 50.0]:
        sink: Sink | LatentSink = LatentSink(latency_ms / 1000) if latency_ms > 0 else Sink()
        try:
            rates = {}
            for name, send in (("threads", with_threads), ("asyncio", with_asyncio)):
                before, cpu_before = sink.messages(), cpu_s()
                seconds = send(sink.port, args.connections, args.messages)
                cpu_per_msg = (cpu_s() - cpu_before) / args.messages
                if latency_ms > 0 and sink.messages() - before < args.messages:
                    raise SystemExit(f"{name}: the server counted {sink.messages() - before} messages")
                rates[name] = args.messages / seconds
                limit = f", limit {args.connections / (latency_ms / 1000):.0f} msg/s" if latency_ms else ""
                print(f"latency={latency_ms:g} ms {name}: {args.messages} messages over "
                      f"{args.connections} connections in {seconds:.2f} s = {rates[name]:.0f} msg/s"
                      f"{limit}; CPU {cpu_per_msg * 1e6:.0f} us per message")
            print(f"latency={latency_ms:g} ms asyncio/threads = {rates['asyncio'] / rates['threads']:.2f}")
        finally:
            sink.stop()


if __name__ == "__main__":
    main()
