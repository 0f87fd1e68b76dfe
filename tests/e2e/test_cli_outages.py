"""Every CLI command meets a database or a broker that is down with one line naming it and exit 1;
`digest send --wait` outlasts a database restart."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.conftest import EXAMPLES, ROOT, free_port, production_env, run_cli, wait_for
from tests.faults.servers import CountingSmtp, OwnPostgres

COMMANDS = [
    ["db", "upgrade"],
    ["articles", "list"],
    ["articles", "import", "examples/csto-anniversary.txt"],
    ["feeds", "build", "--out", "/tmp/never-written"],
    ["lists", "create", "news", "--name", "News", "--frequency", "daily"],
    ["subscribers", "list", "--list", "news"],
    ["digest", "send", "--list", "news"],
    ["editions", "list"],
    ["editions", "show", "1"],
    ["resend", "edition", "1", "--all"],
    ["deliveries", "list"],
    ["partners", "add", "Agency", "https://agency.example/hook"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a[:2]) for a in COMMANDS])
def test_database_down(args: list[str], embedded_env: dict[str, str]) -> None:
    env = embedded_env | {
        "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone",
        "SECRET_KEY": "test-secret-key-0123456789", "ADMIN_TOKEN": "test-admin-token-0123456789",
    }
    done = run_cli(args, env, timeout=60)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the database is unreachable"), done.stderr
    assert "Traceback" not in done.stderr


def _seed(env: dict[str, str], tmp_path: Path, subscribers: int) -> None:
    """A list `news` with confirmed readers, one article, one partner without filters."""
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("email\n" + "".join(f"reader{n}@example.org\n" for n in range(subscribers)))
    for args in (["db", "upgrade"], ["lists", "create", "news", "--name", "News", "--frequency", "daily"],
                 ["subscribers", "import", str(csv_path), "--list", "news", "--confirmed"],
                 ["articles", "import", str(EXAMPLES / "csto-anniversary.txt")]):
        done = run_cli(args, env, timeout=60)
        assert done.returncode == 0, (args, done.stderr)


def test_broker_down(embedded_env: dict[str, str], pg_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = production_env(embedded_env, database_url=pg_url, redis_url=f"redis://127.0.0.1:{port}/0",
                         queue="syndicate-broker-down") | {"PARTNER_ALLOW_PRIVATE": "true"}
    _seed(env, tmp_path, subscribers=2)
    added = run_cli(["partners", "add", "Agency", "http://127.0.0.1:9/hook"], env)
    assert added.returncode == 0, added.stderr
    broker = f"error: the broker (Redis at 127.0.0.1:{port}) is unreachable ("

    # Commands that hand work to workers: one line naming the broker and what waits, exit 1.
    for args, stdout, waits in (
        (["digest", "send", "--list", "news", "--since", "2000-01-01T00:00:00+00:00"], "edition=1 queued=2",
         "edition 1 and its 2 queued deliveries wait in the database"),
        (["digest", "send", "--list", "news", "--since", "2000-01-01T00:00:00+00:00", "--wait"],
         "edition=2 queued=2", "edition 2 and its 2 queued deliveries wait in the database"),
        (["resend", "edition", "1", "--all"], "edition=1 requeued=2",
         "the 2 requeued deliveries of edition 1 wait in the database"),
        (["partners", "resend", "1", "--article", "1"], "1",
         "1 delivery waits in the database as pending"),
    ):
        done = run_cli(args, env, timeout=60)
        assert done.returncode == 1, (args, done.stderr)
        assert done.stdout.strip() == stdout
        [line] = done.stderr.strip().splitlines()
        assert line.startswith(broker) and waits in line and "Traceback" not in done.stderr, line

    # The work is in the database, and commands that need no broker still work.
    listed = run_cli(["deliveries", "list", "--status", "queued"], env)
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 4, listed.stderr
    for args in (["editions", "list"], ["lists", "list"], ["subscribers", "list", "--list", "news"],
                 ["partners", "deliveries", "1"], ["feeds", "build", "--out", str(tmp_path / "feeds")]):
        done = run_cli(args, env, timeout=60)
        assert done.returncode == 0 and done.stdout, (args, done.stderr)


def test_digest_send_wait_outlasts_a_database_restart(
    embedded_env: dict[str, str], redis_server: str, queue_name: str, tmp_path: Path,
    start_worker: Callable[..., subprocess.Popen[bytes]],
) -> None:
    pg = OwnPostgres()
    smtp = CountingSmtp()
    try:
        pg.start()
        smtp.start()
        env = production_env(embedded_env, database_url=pg.url, redis_url=redis_server,
                             queue=queue_name) | {"SMTP_URL": smtp.url}
        _seed(env, tmp_path, subscribers=5)
        out, errors = tmp_path / "send.out", tmp_path / "send.err"
        with out.open("w") as stdout, errors.open("w") as stderr:
            # No worker yet: the command waits on queued rows while its database goes away.
            send = subprocess.Popen(
                [sys.executable, "-m", "syndicate.cli.main", "digest", "send", "--list", "news",
                 "--since", "2000-01-01T00:00:00+00:00", "--wait"],
                env=env, cwd=ROOT, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL)
            try:
                broker = redis.Redis.from_url(redis_server)
                wait_for(lambda: any(b"send_batch" in m for m in broker.lrange(queue_name, 0, -1)),
                         timeout=60, what="the edition's batch in the queue")
                pg.stop()
                wait_for(lambda: "waiting for the database" in errors.read_text() or send.poll() is not None,
                         timeout=60, what="the command to say it waits for the database")
                assert send.poll() is None, errors.read_text()
                pg.start()
                start_worker(env, "--concurrency", "1")
                assert send.wait(timeout=120) == 0, errors.read_text()
            finally:
                if send.poll() is None:
                    send.kill()
        assert out.read_text().strip() == "edition=1 sent=5 failed=0 bounced=0 skipped=0"
        said = errors.read_text()
        assert said.count("waiting for the database (unreachable: ") == 1, said
        assert said.count("the database is back after") == 1 and "Traceback" not in said, said
        assert smtp.counts() == {f"reader{n}@example.org": 1 for n in range(5)}
    finally:
        smtp.stop()
        pg.close()
