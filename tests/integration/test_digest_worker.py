"""The issue's scenario: PostgreSQL, Redis, a real worker and a real SMTP server on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import production_env, run_cli
from tests.integration.digest_helpers import SAMPLE, SAMPLE_TITLE, SmtpSink

pytest_plugins = ["tests.integration.conftest_digests"]


def digest_env(embedded_env: dict[str, str], pg_url: str, redis_server: str, queue_name: str,
               sink: SmtpSink) -> dict[str, str]:
    env = production_env(embedded_env, database_url=pg_url, redis_url=redis_server, queue=queue_name)
    return env | {
        "SMTP_URL": sink.url, "BASE_URL": "https://news.example.com", "MAIL_BATCH_SIZE": "60",
        "MAIL_SWEEP_SECONDS": "1", "MAIL_RETRY_SECONDS": "1", "DIGEST_HOUR": "24",
    }


def prepare(env: dict[str, str], tmp_path: Path, emails: list[str]) -> None:
    assert run_cli(["db", "upgrade"], env).returncode == 0
    created = run_cli(["lists", "create", "world", "--name", "World news", "--frequency", "daily"], env)
    assert created.returncode == 0, created.stderr
    csv_path = tmp_path / "subscribers.csv"
    csv_path.write_text("email,name,language\n" + "".join(f"{e},,en\n" for e in emails))
    imported = run_cli(["subscribers", "import", str(csv_path), "--list", "world", "--confirmed"], env)
    assert imported.returncode == 0, imported.stderr
    assert run_cli(["articles", "import", str(SAMPLE)], env).returncode == 0


def test_500_confirmed_subscribers_get_exactly_one_message_each(
    pg_url: str, redis_server: str, queue_name: str, embedded_env: dict[str, str], start_worker: Any,
    smtp_sink: SmtpSink, tmp_path: Path,
) -> None:
    env = digest_env(embedded_env, pg_url, redis_server, queue_name, smtp_sink)
    emails = [f"reader{n:03d}@example.com" for n in range(500)]
    prepare(env, tmp_path, emails)
    start_worker(env, "--concurrency", "2", "--with-beat")
    sent = run_cli(["digest", "send", "--list", "world", "--since", "2000-01-01T00:00:00+00:00", "--wait"],
                   env, timeout=240)
    assert sent.returncode == 0, sent.stderr
    last = sent.stdout.strip().splitlines()[-1]
    edition_id = last.split()[0].split("=")[1]
    assert last == f"edition={edition_id} sent=500 failed=0 bounced=0 skipped=0"
    assert sorted(smtp_sink.recipients()) == emails
    messages = smtp_sink.messages()
    assert len({m["Message-ID"] for m in messages}) == 500
    for msg in messages:
        assert msg["Message-ID"].endswith("@news.example.com>") and msg["Date"]
        assert msg["List-Id"] == "World news <world.news.example.com>"
        assert msg["List-Unsubscribe"].startswith("<https://news.example.com/unsubscribe/")
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg["From"] == "Newsroom <news@localhost>"
        assert msg.get_content_type() == "multipart/alternative"
        text, html = msg.iter_parts()
        assert text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
        assert SAMPLE_TITLE in text.get_content() and SAMPLE_TITLE in html.get_content()
    resend = run_cli(["resend", "edition", edition_id, "--failed-only"], env)
    assert resend.returncode == 0 and resend.stdout.strip() == f"edition={edition_id} requeued=0"
    listed = run_cli(["deliveries", "list", "--status", "sent"], env)
    assert len(listed.stdout.splitlines()) == 500
    assert len(smtp_sink.received) == 500


def test_451_recipients_are_retried_by_beat_and_550_bounce(
    pg_url: str, redis_server: str, queue_name: str, embedded_env: dict[str, str], start_worker: Any,
    smtp_sink: SmtpSink, tmp_path: Path,
) -> None:
    env = digest_env(embedded_env, pg_url, redis_server, queue_name, smtp_sink)
    emails = [f"reader{n:02d}@example.com" for n in range(20)]
    smtp_sink.replies = {"reader03@example.com": ["451 4.7.1 greylisted, try again"],
                         "reader07@example.com": ["451 4.3.0 busy", "451 4.3.0 still busy"],
                         "reader11@example.com": ["550 5.1.1 mailbox unavailable"]}
    prepare(env, tmp_path, emails)
    start_worker(env, "--concurrency", "1", "--with-beat")
    sent = run_cli(["digest", "send", "--list", "world", "--since", "2000-01-01T00:00:00+00:00", "--wait"],
                   env, timeout=240)
    assert sent.returncode == 0, sent.stderr
    edition_id = sent.stdout.split()[0].split("=")[1]
    assert sent.stdout.strip().splitlines()[-1] == (
        f"edition={edition_id} sent=19 failed=0 bounced=1 skipped=0")
    got = smtp_sink.recipients()
    assert sorted(got) == sorted(e for e in emails if e != "reader11@example.com")
    assert [a for a, _ in smtp_sink.refused].count("reader11@example.com") == 1  # never retried
    subscribers = run_cli(["subscribers", "list", "--list", "world"], env).stdout
    assert "reader11@example.com\tbounced" in subscribers
    deliveries = run_cli(["deliveries", "list", "--status", "bounced"], env).stdout
    assert "reader11@example.com\tbounced\t1\t550 5.1.1 mailbox unavailable" in deliveries
