"""End to end on PostgreSQL + Redis: a real worker pushes a published article; beat drives the retry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, select
from standardwebhooks import Webhook

from syndicate.storage.partner_models import PartnerDeliveryRow
from tests.conftest import EXAMPLES, production_env, run_cli, wait_for
from tests.integration.partners_helpers import Receiver, Reply

pytest_plugins = ["tests.integration.conftest_partners"]


def statuses(database_url: str) -> list[tuple[str, int]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            stmt = select(PartnerDeliveryRow.status, PartnerDeliveryRow.attempts)
            return [(str(s), int(a)) for s, a in conn.execute(stmt)]
    finally:
        engine.dispose()


def test_worker_pushes_published_article_and_beat_retries_it(
    pg_url: str, redis_server: str, queue_name: str, embedded_env: dict[str, str],
    start_worker: Any, receiver: Receiver,
) -> None:
    env = production_env(embedded_env, database_url=pg_url, redis_url=redis_server, queue=queue_name)
    env |= {"PARTNER_ALLOW_PRIVATE": "true", "PARTNER_SWEEP_SECONDS": "1"}
    assert run_cli(["db", "upgrade"], env).returncode == 0
    added = run_cli(["partners", "add", "Agency", receiver.url()], env)
    assert added.returncode == 0, added.stderr
    _, secret = added.stdout.strip().split("\t")
    # The first push fails; the retry 5 s later (stored in the database, swept by beat) succeeds.
    receiver.reply = lambda _r: Reply(500) if len(receiver.requests) == 1 else Reply(200)
    worker = start_worker(env, "--concurrency", "1", "--with-beat")

    imported = run_cli(["articles", "import", str(EXAMPLES / "peacekeeping-exercise.json")], env)
    assert imported.returncode == 0, imported.stderr
    article_id = int(imported.stdout.split("\t")[0])

    wait_for(lambda: statuses(pg_url) == [("delivered", 2)], 90,
             f"the delivery to succeed on its retry; worker log:\n{worker.log_path}")
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    for got in (first, second):
        body = Webhook(secret).verify(got.body, got.headers)
        assert body["type"] == "article.published" and body["data"]["id"] == article_id
