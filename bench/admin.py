"""Admin page cost as the delivery ledger grows: 10,000 vs 1,000,000 delivery rows on PostgreSQL.

Each edition has the same number of recipients in both runs; only the number of editions (and so
of rows) grows 100x. A page whose cost depends on the page, not on the table, keeps a ratio near 1.
Also prints whether PostgreSQL plans any sequential scan of `deliveries` for the pages' queries.

    .venv/bin/python bench/admin.py [--quick] [--pg postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
from fastapi.testclient import TestClient  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from syndicate.bootstrap import bootstrap  # noqa: E402
from syndicate.settings import load_settings  # noqa: E402
from syndicate.web.app import create_app  # noqa: E402

TOKEN = "bench-admin-token-0123456789"

FILL = """
INSERT INTO mailing_lists (id, slug, name, frequency, language, categories, custom_frequency, created_at)
VALUES (1, 'news', 'News', 'daily', NULL, '[]', false, now());
INSERT INTO subscribers (id, email, name, language, status, created_at)
SELECT s, 'reader' || s || '@example.org', 'Reader ' || s, 'en', 'active', now()
FROM generate_series(1, %(subscribers)s) s;
INSERT INTO editions (id, list_id, frequency, dedupe_key, since, until, article_ids, subject, created_at)
SELECT e, 1, 'daily', 'daily:' || e, now() - interval '1 day', now(), '[]', 'Edition ' || e,
       now() - (%(editions)s - e) * interval '1 day'
FROM generate_series(1, %(editions)s) e;
INSERT INTO deliveries (edition_id, subscriber_id, state, attempts, last_reply, next_attempt_at, updated_at,
                        sent_at)
SELECT e, s, CASE WHEN s %% 97 = 0 THEN 'failed' WHEN s %% 89 = 0 THEN 'bounced' ELSE 'sent' END, 1,
       CASE WHEN s %% 97 = 0 THEN '451 4.3.0 try later' ELSE '250 OK' END,
       now(), now() - (%(editions)s - e) * interval '1 day', now()
FROM generate_series(1, %(editions)s) e, generate_series(1, %(subscribers)s) s;
SELECT setval(pg_get_serial_sequence('editions', 'id'), %(editions)s);
SELECT setval(pg_get_serial_sequence('subscribers', 'id'), %(subscribers)s);
ANALYZE
"""


def pages(editions: int, subscriber: int) -> dict[str, str]:
    """The admin views an operator opens, with the newest edition and a subscriber who failed."""
    return {
        "overview": "/admin",
        "editions list": "/admin/editions",
        "edition (failed rows)": f"/admin/editions/{editions}",
        "subscriber": f"/admin/subscribers/{subscriber}",
        "api edition": f"/api/editions/{editions}",
        "api deliveries failed": "/api/deliveries?state=failed&limit=100",
        "api subscriber": f"/api/subscribers/{subscriber}",
    }


def failing_subscriber(subscribers: int) -> int:
    """A subscriber id in the middle whose deliveries failed (every 97th fails)."""
    return 97 * max(1, subscribers // 194)


def measure(client: TestClient, path: str, repeat: int) -> float:
    """Median seconds of `repeat` GETs (after one warm-up)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get(path, headers=headers).status_code == 200, path
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200
    return statistics.median(times)


def seq_scans(engine: Any, edition: int, subscriber: int) -> list[str]:
    """Queries of the pages whose PostgreSQL plan reads `deliveries` sequentially."""
    queries = {
        "edition counts": f"SELECT state, count(*) FROM deliveries WHERE edition_id IN ({edition}) "
                          "GROUP BY edition_id, state",
        "edition rows": f"SELECT * FROM deliveries WHERE edition_id = {edition} AND state = 'failed' "
                        "ORDER BY id LIMIT 100",
        "failures 24h": "SELECT count(*) FROM deliveries WHERE state IN ('failed', 'bounced') "
                        "AND updated_at >= now() - interval '24 hours'",
        "subscriber history": f"SELECT * FROM deliveries WHERE subscriber_id = {subscriber} "
                              "ORDER BY id DESC LIMIT 100",
    }
    found = []
    with engine.connect() as conn:
        for name, sql in queries.items():
            plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + sql)))
            if "Seq Scan on deliveries" in plan:
                found.append(name)
    return found


def run(pg_admin: str, subscribers: int, editions: int, repeat: int) -> tuple[dict[str, float], list[str]]:
    """Fill a fresh database and time every page; returns medians and seq-scanning queries."""
    name = f"syndicate_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = pg_admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
        with tempfile.TemporaryDirectory() as var:
            container = bootstrap(load_settings(
                database_url=url, var_dir=Path(var), secret_key="bench-secret-key-0123456789",
                admin_token=TOKEN, redis_url="redis://127.0.0.1:6379/0",
            ), migrate=True)
            start = time.perf_counter()
            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
                for statement in filter(str.strip, FILL.split(";\n")):
                    conn.execute(statement, {"subscribers": subscribers, "editions": editions})  # type: ignore[arg-type]
            filled = time.perf_counter() - start
            print(f"  filled {subscribers * editions:,} delivery rows in {filled:.1f} s", flush=True)
            client = TestClient(create_app(container))
            views = pages(editions, failing_subscriber(subscribers))
            # The first view counts every settled edition it shows once and stores the counts.
            start = time.perf_counter()
            first = client.get("/admin/editions", headers={"Authorization": f"Bearer {TOKEN}"})
            assert first.status_code == 200
            results = {"editions list, first view": time.perf_counter() - start}
            results |= {label: measure(client, path, repeat) for label, path in views.items()}
            results["baseline /healthz"] = measure(client, "/healthz", repeat)
            scans = seq_scans(container.engine, editions, failing_subscriber(subscribers))
            container.close()
        return results, scans
    finally:
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    """Run both sizes and print a table of medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="1,000 recipients, 1 vs 10 editions")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    subscribers = 1_000 if args.quick else args.subscribers
    sizes = (1, 10) if args.quick else (1, 100)
    runs = []
    for editions in sizes:
        rows = subscribers * editions
        print(f"{rows:,} rows ({editions} edition(s) x {subscribers:,} recipients)", flush=True)
        runs.append(run(args.pg, subscribers, editions, args.repeat))
    (small, small_scans), (large, large_scans) = runs
    print(f"{'page':<26}{'small ms':>10}{'large ms':>10}{'ratio':>8}")
    for label in small:
        ratio = large[label] / small[label]
        print(f"{label:<26}{small[label] * 1000:>10.1f}{large[label] * 1000:>10.1f}{ratio:>8.2f}")
    worst = max(large[k] / small[k] for k in small if not k.startswith("baseline"))
    print(f"ratio large/small: worst page {worst:.2f}; "
          f"baseline {large['baseline /healthz'] / small['baseline /healthz']:.2f}")
    print(f"sequential scans of deliveries: {', '.join(large_scans) or 'none'}"
          f"{' (small run: ' + ', '.join(small_scans) + ')' if small_scans else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
