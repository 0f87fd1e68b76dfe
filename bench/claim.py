"""Claim benchmark: what taking a batch of a digest edition costs per row, on PostgreSQL.

A sending process claims its batch (MAIL_BATCH_SIZE rows) before the first message goes out and
sends nothing meanwhile, so the claim's cost per row is a share of every message's. This seeds
N subscribers, plans one edition of the sample article and claims it batch by batch through the
ledger (`DeliveryStore.claim`: the rows' state, the story ledger's pairs and each row's entries),
against a baseline in the same run: the claim's own UPDATE alone, on an identical edition in a
second database. It prints microseconds per row for both and their ratio, and the Python part
of the claim (its CPU time in this process).

    .venv/bin/python bench/claim.py              # 20,000 subscribers, batches of 500
    .venv/bin/python bench/claim.py --quick      # 1,000, for the test suite
Needs PostgreSQL (127.0.0.1:5432, or TEST_PG_ADMIN) and Redis (127.0.0.1:6379).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from fanout import seed  # bench/fanout.py
from support import create_database, database_url, drop_database  # bench/support.py

SECRET = "bench-secret-key-0123456789abcdef"
BARE_CLAIM = """
UPDATE deliveries SET state = 'sending', claim = :token, claimed_at = :now,
    attempts = attempts + 1, updated_at = :now
WHERE edition_id = :edition AND id BETWEEN :lo AND :hi AND state = 'queued'
    AND next_attempt_at <= :now
"""


def planned(n: int, redis_url: str) -> tuple[Any, str, int, list[tuple[int, int]]]:
    """A new database with n subscribers and one planned edition: (container, database name,
    edition id, the id ranges of its batches)."""
    from sqlalchemy import select

    from syndicate.bootstrap import bootstrap
    from syndicate.settings import load_settings
    from syndicate.storage.digest_models import DeliveryRow

    name = create_database("syndicate_claim")
    var_dir = tempfile.mkdtemp(prefix="claim-bench-")
    os.environ.update({
        "DATABASE_URL": database_url(name), "REDIS_URL": redis_url,
        "CELERY_QUEUE": f"bench-claim-{uuid.uuid4().hex[:8]}", "SECRET_KEY": SECRET,
        "ADMIN_TOKEN": SECRET, "VAR_DIR": var_dir,
        "BASE_URL": "https://news.example.com", "DIGEST_HOUR": "24", "MAIL_SWEEP_SECONDS": "3600",
    })
    try:
        container = bootstrap(load_settings(), migrate=True)
        [slug] = seed(container, n)
        edition_id = container.digests.send_now(slug)
        with container.session_factory() as session:
            ids = list(session.scalars(select(DeliveryRow.id)
                                       .where(DeliveryRow.edition_id == edition_id)
                                       .order_by(DeliveryRow.id)))
    except BaseException:
        drop_database(name)  # never leave a half-made database on the shared server
        shutil.rmtree(var_dir, ignore_errors=True)
        raise
    size = container.settings.mail_batch_size
    ranges = [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]
    return container, name, edition_id, ranges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--subscribers", type=int, default=20_000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--quick", action="store_true", help="1,000 subscribers, for tests")
    args = parser.parse_args()
    n = 1_000 if args.quick else args.subscribers
    from sqlalchemy import text

    # The baseline: the same edition in a database of its own, taken by the bare UPDATE.
    base, base_db, base_edition, base_ranges = planned(n, args.redis_url)
    try:
        started = time.perf_counter()
        with base.engine.connect() as conn:
            for lo, hi in base_ranges:
                conn.execute(text(BARE_CLAIM), {"token": uuid.uuid4().hex, "now": datetime.now(UTC),
                                                "edition": base_edition, "lo": lo, "hi": hi})
                conn.commit()
        bare_s = time.perf_counter() - started
    finally:
        base.close()
        drop_database(base_db)
        shutil.rmtree(base.settings.var_dir, ignore_errors=True)

    container, db_name, edition_id, ranges = planned(n, args.redis_url)
    try:
        store = container.deliveries()
        list_id = container.digests.fanout.cache.edition(store, edition_id).list_id
        claimed = 0
        started, cpu = time.perf_counter(), time.process_time()
        for lo, hi in ranges:
            claimed += len(store.claim(edition_id, list_id, lo, hi, now=datetime.now(UTC)))
        claim_s, claim_cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        container.close()
        drop_database(db_name)
        shutil.rmtree(container.settings.var_dir, ignore_errors=True)
    if claimed != n:
        raise SystemExit(f"claimed {claimed} rows of {n}")
    per_row = claim_s / n * 1e6
    print(f"subscribers={n} batches={len(ranges)} batch={container.settings.mail_batch_size}")
    print(f"claim: {n} rows in {claim_s:.2f} s = {per_row:.0f} us per row "
          f"({claim_s / len(ranges) * 1000:.0f} ms per batch), of which Python "
          f"{claim_cpu / n * 1e6:.0f} us")
    print(f"bare UPDATE (baseline): {n} rows in {bare_s:.2f} s = {bare_s / n * 1e6:.0f} us per row")
    print(f"claim/bare UPDATE = {claim_s / bare_s:.2f}")


if __name__ == "__main__":
    main()
