"""Fault benchmark: the fault suite's scenarios at 5,000 subscribers, printed as the issue's table.

Each scenario owns its servers (a PostgreSQL cluster via initdb/pg_ctl as `postgres`, a
redis-server, an aiosmtpd server counting per address) and real `syndicate` processes; each fault
is injected once when 30 % of the addresses have their copy.

    .venv/bin/python bench/faults.py                          # every fault, test periods
    .venv/bin/python bench/faults.py --fault kill --fault pg-down
    .venv/bin/python bench/faults.py --defaults --timeout 900  # the product's default periods
Runs as root (PostgreSQL is started with runuser -u postgres).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.faults import scenario as sc  # noqa: E402

FAULTS: dict[str, tuple[str, dict[str, object], Callable[[argparse.Namespace], object]]] = {
    "none": ("no fault (baseline)", {}, lambda a: None),
    "kill": ("`kill -9` of the worker, new worker started", {}, lambda a: sc.kill_worker),
    "pg-down": ("PostgreSQL stopped {pg}s (fast), then started", {},
                lambda a: sc.postgres_down(a.pg, "fast")),
    "pg-crash": ("PostgreSQL crashed (immediate stop) {pg}s, then started", {},
                 lambda a: sc.postgres_down(a.pg, "immediate")),
    "pg-restart": ("PostgreSQL restarted quickly (fast)", {}, lambda a: sc.postgres_down(0, "fast")),
    "pg-crash-restart": ("PostgreSQL restarted quickly (immediate)", {},
                         lambda a: sc.postgres_down(0, "immediate")),
    "redis-down": ("Redis stopped {redis}s, no persistence", {}, lambda a: sc.redis_down(a.redis)),
    "redis-aof": ("Redis stopped {redis}s, append-only file", {"appendonly": True},
                  lambda a: sc.redis_down(a.redis)),
    "smtp-down": ("SMTP server down {smtp}s", {}, lambda a: sc.smtp_down(a.smtp)),
    "serve-kill": ("embedded `serve`: its worker killed with `kill -9`", {"embedded": True},
                   lambda a: sc.kill_serve_worker),
}


def run_one(name: str, args: argparse.Namespace) -> str:
    """Run one scenario; its table row."""
    title, options, make_fault = FAULTS[name]
    s = sc.MailScenario(sc.scenario_dir(f"bench-{name}"), n=args.subscribers, fast=not args.defaults,
                        latency_s=args.latency, **options)  # type: ignore[arg-type]
    try:
        s.start()
        if s.embedded:
            s.start_serve()
        else:
            s.start_worker()
        outcome = s.run(make_fault(args), timeout=args.timeout)  # type: ignore[arg-type]
    finally:
        s.close()
        shutil.rmtree(s.workdir, ignore_errors=True)
    return outcome.row(title.format(pg=args.pg, redis=args.redis, smtp=args.smtp))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--subscribers", type=int, default=5000)
    parser.add_argument("--fault", action="append", choices=sorted(FAULTS),
                        help="run only these (repeatable); default: all")
    parser.add_argument("--defaults", action="store_true",
                        help="the product's default lease, sweep and retry periods")
    parser.add_argument("--timeout", type=float, default=900, help="give up on a send after this")
    parser.add_argument("--latency", type=float, default=0.005, help="SMTP DATA reply delay, s")
    parser.add_argument("--pg", type=float, default=30, help="PostgreSQL outage, s")
    parser.add_argument("--redis", type=float, default=20, help="Redis outage, s")
    parser.add_argument("--smtp", type=float, default=60, help="SMTP outage, s")
    args = parser.parse_args()
    rows = []
    for name in args.fault or list(FAULTS):
        rows.append(run_one(name, args))
        print(rows[-1], flush=True)
    periods = "default periods" if args.defaults else f"test periods {sc.FAST}"
    print(f"\n{args.subscribers} subscribers, {periods}\n")
    print("| fault | copies received | time until every address had one |")
    print("| --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
