"""`/healthz` latency while a large subscriber CSV is imported through the API.

Starts a real `syndicate serve` in embedded mode (SQLite, file broker, its worker and scheduler)
in a temporary VAR_DIR on a free port, measures `/healthz` idle, posts an N-row CSV to
`POST /api/subscribers/import`, and polls `/healthz` with one persistent httpx client from the
upload until the job is done. Prints median / p99 / max latency idle and during the import, their
ratios, and the import's duration and rows/s.

    .venv/bin/python bench/import_health.py              # 400,000 rows
    .venv/bin/python bench/import_health.py -n 50000
    .venv/bin/python bench/import_health.py --quick      # 5,000 rows, a smoke run
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "syndicate.cli.main", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"syndicate {' '.join(args)} failed:\n{done.stderr}")


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("email,name,language\n")
        for n in range(rows):
            fh.write(f"reader{n}@example.test,Reader {n},{'ru' if n % 3 else 'en'}\n")


class HealthPoller:
    """Polls /healthz back to back on one persistent client; keeps (start time, seconds) per request."""

    def __init__(self, base: str, path: str = "/healthz") -> None:
        self.path = path
        self.samples: list[tuple[float, float]] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(base,), daemon=True)

    def _run(self, base: str) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    ok = client.get(self.path).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.samples.append((started, time.perf_counter() - started))
                if not ok:
                    self.failures += 1
                time.sleep(0.005)  # a busy client, not a flood

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: float, end: float) -> list[float]:
        return [s for t, s in self.samples if start <= t <= end]


def stats(latencies: list[float]) -> tuple[float, float, float]:
    """(median, p99, max) in milliseconds."""
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000, ordered[-1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--rows", type=int, default=400_000)
    parser.add_argument("--quick", action="store_true", help="5,000 rows")
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--no-worker", action="store_true", help="serve without its embedded worker")
    parser.add_argument("--probe", default="/healthz",
                        help="the path polled (e.g. /robots.txt: no database, no broker)")
    args = parser.parse_args()
    rows = 5_000 if args.quick else args.rows

    with tempfile.TemporaryDirectory(prefix="import-health-") as tmp:
        var = Path(tmp) / "var"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "REDIS_URL", "SMTP_URL", "BASE_URL")}
        env |= {"VAR_DIR": str(var), "ADMIN_TOKEN": TOKEN, "SECRET_KEY": "bench-secret-key-0123456789",
                "PYTHONUNBUFFERED": "1"}
        cli(["db", "upgrade"], env)
        cli(["lists", "create", "bench", "--name", "Bench", "--frequency", "daily"], env)
        csv_path = Path(tmp) / "readers.csv"
        write_csv(csv_path, rows)
        size_mb = csv_path.stat().st_size / 1e6

        log = (Path(tmp) / "serve.log").open("wb")
        argv = [sys.executable, "-m", "syndicate.cli.main", "serve", "--port", str(port)]
        proc = subprocess.Popen(argv + (["--no-worker"] if args.no_worker else []), env=env, cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("syndicate serve did not become healthy")
                time.sleep(0.2)

            poller = HealthPoller(base, args.probe)
            poller.start()
            idle_start = time.perf_counter()
            time.sleep(args.idle_seconds)
            idle_end = started = time.perf_counter()
            with httpx.Client(base_url=base, headers=AUTH, timeout=120) as api:
                response = api.post("/api/subscribers/import", params={"list": "bench", "confirmed": "true",
                                                                       "wait": "0"},
                                    content=csv_path.read_bytes())
                if response.status_code not in (200, 202):
                    raise SystemExit(f"import refused: {response.status_code} {response.text}")
                job_url = f"/api/jobs/{response.json()['job']}"
                while (job := api.get(job_url).json())["state"] == "running":
                    time.sleep(0.5)
            finished = time.perf_counter()
            poller.stop()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)

    if job["state"] != "done":
        raise SystemExit(f"the import ended {job['state']}: {job['error']}")
    result = job["result"]
    idle, during = poller.between(idle_start, idle_end), poller.between(started, finished)
    (i_med, i_p99, i_max), (d_med, d_p99, d_max) = stats(idle), stats(during)
    duration = finished - started
    print(f"import: {rows} rows ({size_mb:.1f} MB) in {duration:.1f} s ({rows / duration:.0f} rows/s); "
          f"imported={result['imported']} existing={result['existing']} errors={result['error_count']}")
    probe = args.probe
    print(f"{probe} idle:   n={len(idle)} median={i_med:.1f} ms p99={i_p99:.1f} ms max={i_max:.1f} ms")
    print(f"{probe} import: n={len(during)} median={d_med:.1f} ms p99={d_p99:.1f} ms max={d_max:.1f} ms "
          f"non-200={poller.failures}")
    print(f"ratio import/idle: median {d_med / i_med:.2f}x p99 {d_p99 / i_p99:.2f}x max {d_max / i_max:.2f}x")
    slowest = sorted(((s, t - started) for t, s in poller.samples if started <= t <= finished), reverse=True)
    print("slowest during the import (ms @ s after the upload began): "
          + ", ".join(f"{s * 1000:.0f} @ {t:.1f}" for s, t in slowest[:5]))
    print(f"under 100 ms throughout: {'yes' if d_max < 100 and not poller.failures else 'NO'}")


if __name__ == "__main__":
    main()
