"""Threads or one selector loop for a sending process: the per-message path of the fan-out
(fields filled into a serialized template, two HMACs, dot-stuffing, a pipelined SMTP send, the
outcome group-committed to PostgreSQL before the connection's next message) over N connections.

- threads: today's engine shape. One thread per connection with syndicate's SmtpTransport
  (smtplib, pipelined) and its GroupCommit; each sender waits for its own outcome's commit.
- loop: one thread, each connection driven by syndicate's SmtpPipeline under `selectors` (the
  fan-out's selector loop, mail/smtp_pipeline.py). The outcomes of every connection that was
  answered in one pass are written in one statement, then those connections send on.

Both keep the ledger's rule: a message's outcome is committed before its connection sends the
next message. Neither claims, heartbeats nor runs under Celery, so both are cheaper than the
worker; the ratio between them is the figure. Prints messages/s, this process's CPU per message
(user and system), the ratio loop/threads, and each against the raw one-connection limit
(bench/fanout.py's).

    .venv/bin/python bench/send_loop.py              # 20,000 messages, 10 connections
    .venv/bin/python bench/send_loop.py -n 300       # quick
Needs PostgreSQL (TEST_PG_ADMIN, default 127.0.0.1:5432) and `smtp-sink` (Debian package postfix).
"""

from __future__ import annotations

import argparse
import queue
import resource
import selectors
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fanout import Sink, _push_raw_pipelined  # bench/fanout.py, next to this file
from support import create_database, database_url, drop_database  # bench/support.py

from syndicate.digests.batch import recipient_for
from syndicate.digests.edition_mail import EditionMail
from syndicate.digests.ports import ClaimedDelivery, EditionContent
from syndicate.digests.tokens import Signer
from syndicate.mail.message import MessageTemplate, build_template
from syndicate.mail.smtp import SmtpTransport
from syndicate.mail.smtp_pipeline import dot_stuffed
from syndicate.mail.transport import SendResult
from syndicate.settings import Settings
from syndicate.storage.group_commit import GroupCommit

SECRET = "bench-secret-key-0123456789"
SENDER = "news@news.example.com"
PARAGRAPH = "The Collective Security Treaty Organization marks its anniversary with a meeting. " * 4
RECORD = ("UPDATE bench_deliveries d SET state = 'sent', reply = v.reply, attempts = d.attempts + 1, "
          "updated_at = now() FROM unnest(%s::int[], %s::text[]) AS v(id, reply) WHERE d.id = v.id")


class Work:
    """What both modes share: the template, the signer, and the database to record in."""

    def __init__(self, db_url: str, n: int) -> None:
        self.db_url = db_url
        self.n = n
        self.settings = Settings(secret_key=SECRET, base_url="https://news.example.com",
                                 mail_from=f"Newsroom <{SENDER}>")
        self.signer = Signer(SECRET)
        self.edition = EditionMail(EditionContent(1, 1, "news", "News", "daily", []))
        self.now = datetime.now(UTC)
        self.template: MessageTemplate = build_template(
            mail_from=f"Newsroom <{SENDER}>", subject="Daily digest", list_id="News <news.bench>",
            text="\n\n".join([PARAGRAPH] * 14),
            html_body="".join(f"<p style='margin:0 0 12px'>{PARAGRAPH}</p>" for _ in range(14)))

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.db_url, autocommit=True,
                               options="-c synchronous_commit=off -c plan_cache_mode=force_generic_plan")

    def reset(self) -> None:
        """Every row back to `sending`."""
        with self.connect() as conn:
            conn.execute("DROP TABLE IF EXISTS bench_deliveries")
            conn.execute("CREATE TABLE bench_deliveries (id int PRIMARY KEY, state text NOT NULL "
                         "DEFAULT 'sending', reply text, attempts int NOT NULL DEFAULT 0, "
                         "updated_at timestamptz)")
            conn.execute("INSERT INTO bench_deliveries (id) SELECT g FROM generate_series(0, %s) g",
                         (self.n - 1,))

    def sent(self) -> int:
        with self.connect() as conn:
            row = conn.execute("SELECT count(*) FROM bench_deliveries WHERE state = 'sent'").fetchone()
            count = row[0] if row else 0
            assert isinstance(count, int)
            return count

    @staticmethod
    def address(i: int) -> str:
        return f"reader{i}@bench.example.com"

    def message(self, i: int) -> bytes:
        """One reader's message, its fields filled in by the fan-out's own `recipient_for`."""
        row = ClaimedDelivery(i, i, self.address(i), "", "en", 1, True)
        return self.template.for_recipient(recipient_for(self.settings, self.signer, self.edition, row,
                                                         self.now))


def with_threads(work: Work, port: int, connections: int) -> str:
    """One thread per SmtpTransport; outcomes through GroupCommit. Returns a note on the groups."""
    db = work.connect()

    def write(items: list[tuple[int, str]]) -> None:  # GroupCommit runs one group at a time
        db.execute(RECORD, ([i for i, _ in items], [r for _, r in items]), prepare=True)

    group: GroupCommit[tuple[int, str]] = GroupCommit(write, shared=lambda exc: False)
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(work.n):
        todo.put(i)

    def take() -> int | None:
        try:
            return todo.get_nowait()
        except queue.Empty:
            return None

    def connection() -> None:
        with SmtpTransport(f"smtp://127.0.0.1:{port}") as smtp:
            row = take()
            while row is not None:
                following = take()
                then = work.address(following) if following is not None else None
                result = smtp.send(SENDER, work.address(row), work.message(row), then)
                if not result.ok:
                    raise SystemExit(f"threads: {result.describe()}")
                group.submit((row, result.describe()))
                row = following

    threads = [threading.Thread(target=connection) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.close()
    return f"{group.groups} commits, {group.items / max(1, group.groups):.1f} outcomes each"


def with_loop(work: Work, port: int, connections: int) -> str:
    """One selector loop over every connection, each driven by syndicate's SmtpPipeline; a
    group write after each pass that got answers, then those connections send on."""
    db = work.connect()
    todo = list(range(work.n - 1, -1, -1))
    selector = selectors.DefaultSelector()
    transports = [SmtpTransport(f"smtp://127.0.0.1:{port}") for _ in range(connections)]
    rows: dict[int, tuple[int, int | None]] = {}  # lane -> (row under way, the row after it)
    pipes = []
    for lane, smtp in enumerate(transports):
        pipe = smtp.pipeline()
        if pipe is None:
            raise SystemExit("loop: the mail server does not offer PIPELINING")
        pipe.watch(selector, lane)
        pipes.append(pipe)
    commits = outcomes = 0
    answered: list[int] = []

    def take() -> int | None:
        return todo.pop() if todo else None

    def answer(lane: int, result: SendResult | None) -> None:
        if result is not None:
            if not result.ok:
                raise SystemExit(f"loop: {result.describe()}")
            answered.append(lane)

    def start(lane: int, row: int | None) -> None:
        if row is None:
            pipes[lane].release()
            transports[lane].close()
            return
        following = take()
        rows[lane] = (row, following)
        then = work.address(following) if following is not None else None
        answer(lane, pipes[lane].begin(SENDER, work.address(row), work.message(row), then))

    for lane in range(connections):
        start(lane, take())
    while rows:
        if not answered:
            for key, _ in selector.select():
                answer(key.data, pipes[key.data].readable())
        if not answered:
            continue
        db.execute(RECORD, ([rows[lane][0] for lane in answered], ["250 ok"] * len(answered)),
                   prepare=True)
        commits, outcomes = commits + 1, outcomes + len(answered)
        done, answered[:] = list(answered), []
        for lane in done:  # recorded: each connection may send its next message now
            start(lane, rows.pop(lane)[1])
    db.close()
    return f"{commits} commits, {outcomes / max(1, commits):.1f} outcomes each"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--messages", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="threads then loop, this many times")
    args = parser.parse_args()
    db_name = create_database("syndicate_send_loop")
    db_url = database_url(db_name, driver="")
    sink = Sink()
    modes: dict[str, Callable[[Work, int, int], str]] = {"threads": with_threads, "loop": with_loop}
    rates: dict[str, list[float]] = {name: [] for name in modes}
    try:
        work = Work(db_url, args.messages)
        for _ in range(args.rounds):
            for name, send in modes.items():
                work.reset()
                before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                groups = send(work, sink.port, args.connections)
                seconds = time.perf_counter() - start
                after = resource.getrusage(resource.RUSAGE_SELF)
                if work.sent() != args.messages:
                    raise SystemExit(f"{name}: {work.sent()} of {args.messages} rows recorded as sent")
                user = (after.ru_utime - before.ru_utime) / args.messages * 1e6
                system = (after.ru_stime - before.ru_stime) / args.messages * 1e6
                rates[name].append(args.messages / seconds)
                print(f"{name}: {args.messages} messages over {args.connections} connections in "
                      f"{seconds:.2f} s = {rates[name][-1]:.0f} msg/s; CPU per message {user:.0f} us user "
                      f"+ {system:.0f} us system; {groups}", flush=True)
        data = dot_stuffed(work.message(0))
        start = time.perf_counter()
        _push_raw_pipelined((sink.port, args.messages, data))
        raw = args.messages / (time.perf_counter() - start)
    finally:
        sink.stop()
        drop_database(db_name)
    mid = {name: statistics.median(r) for name, r in rates.items()}
    print(f"raw limit: one pipelined raw connection = {raw:.0f} msg/s")
    runs = "one run each" if args.rounds == 1 else f"medians of {args.rounds} runs each"
    print(f"loop/threads = {mid['loop'] / mid['threads']:.2f} ({runs}); "
          f"threads/raw = {mid['threads'] / raw:.2f}, loop/raw = {mid['loop'] / raw:.2f}")


if __name__ == "__main__":
    main()
