"""The digest commands as a user runs them in embedded mode: mail lands in var/outbox/."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

from fastapi.testclient import TestClient

from syndicate.bootstrap import bootstrap
from syndicate.settings import load_settings
from syndicate.web.app import create_app
from tests.conftest import EXAMPLES, ROOT, run_cli
from tests.integration.digest_helpers import SmtpSink
from tests.unit.test_mail_report_parser import report_file

pytest_plugins = ["tests.integration.conftest_digests"]

SAMPLE = str(EXAMPLES / "csto-anniversary.txt")


def test_embedded_digest_round_trip(embedded_env: dict[str, str], var_dir: Path, tmp_path: Path) -> None:
    env = embedded_env
    created = run_cli(["lists", "create", "world", "--name", "World news", "--frequency", "daily"], env)
    assert created.returncode == 0 and created.stdout.strip() == "1\tworld", created.stderr
    dup = run_cli(["lists", "create", "world", "--name", "Again", "--frequency", "daily"], env)
    assert dup.returncode == 2 and "'world' is already taken" in dup.stderr
    bad_freq = run_cli(["lists", "create", "x", "--name", "X", "--frequency", "hourly"], env)
    assert bad_freq.returncode == 2 and "frequency" in bad_freq.stderr

    csv_path = tmp_path / "people.csv"
    csv_path.write_text("email,name,language\nann@example.com,Ann,en\nnot an address,,\n"
                        "ivan@example.com,Иван,ru\n")
    imported = run_cli(["subscribers", "import", str(csv_path), "--list", "world", "--confirmed"], env)
    assert imported.returncode == 2  # a bad row: reported by line, the rest imported
    assert f"{csv_path}: line 3: email 'not an address'" in imported.stderr
    assert imported.stdout.startswith("imported 2 new, 0 already known, 1 bad row;")
    listed = run_cli(["subscribers", "list", "--list", "world", "--json"], env)
    people = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(p["email"], p["status"], p["language"]) for p in people] == [
        ("ann@example.com", "active", "en"), ("ivan@example.com", "active", "ru")]

    assert run_cli(["articles", "import", SAMPLE], env).returncode == 0
    sent = run_cli(["digest", "send", "--list", "world", "--wait"], env)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip().splitlines()[-1] == "edition=1 sent=2 failed=0 bounced=0 skipped=0"
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default)
             for p in (var_dir / "outbox").glob("*.eml")]
    assert sorted(m["To"] for m in mails) == ["ann@example.com", "ivan@example.com"]
    ivan = next(m for m in mails if m["To"] == "ivan@example.com")
    assert "Здравствуйте, Иван!" in ivan.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    nothing = run_cli(["digest", "send", "--list", "world", "--wait"], env)
    assert nothing.returncode == 0 and "nothing to send" in nothing.stderr

    show = json.loads(run_cli(["editions", "show", "1", "--json"], env).stdout)
    assert show["list"] == "world" and show["deliveries"]["sent"] == 2
    assert "edition=1 requeued=0" in run_cli(["resend", "edition", "1", "--failed-only"], env).stdout
    again = run_cli(["resend", "edition", "1", "--to", "ann@example.com"], env)
    assert again.stdout.strip() == "edition=1 requeued=1"
    assert len(list((var_dir / "outbox").glob("*.eml"))) == 3
    both = run_cli(["resend", "edition", "1", "--all", "--failed-only"], env)
    assert both.returncode == 2 and "exactly one" in both.stderr
    rows = [json.loads(x) for x in run_cli(["deliveries", "list", "--json"], env).stdout.splitlines()]
    assert [(r["email"], r["state"]) for r in rows] == [
        ("ann@example.com", "sent"), ("ivan@example.com", "sent")]
    missing = run_cli(["editions", "show", "99"], env)
    assert missing.returncode == 2 and "edition 99 not found" in missing.stderr


def test_import_without_confirmed_mails_each_pending_address_a_confirmation_link(
    embedded_env: dict[str, str], var_dir: Path, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    env = embedded_env | {"SMTP_URL": smtp_sink.url, "BASE_URL": "https://news.example.com"}
    known = tmp_path / "known.csv"
    known.write_text("email\ncarl@example.com\n")
    for args in (["lists", "create", "world", "--name", "World news", "--frequency", "daily"],
                 ["subscribers", "import", str(known), "--list", "world", "--confirmed"]):
        assert run_cli(args, env).returncode == 0

    people = tmp_path / "people.csv"
    people.write_text("email,name,language\nann@example.com,Ann,en\nbob@example.com,Bob,ru\n"
                      "no address,,\ncarl@example.com,Carl,en\n")
    smtp_sink.replies["bob@example.com"] = ["550 5.1.1 mailbox unavailable"]
    imported = run_cli(["subscribers", "import", str(people), "--list", "world"], env)
    assert imported.returncode == 2, imported.stderr  # the bad row; the rest is imported and mailed
    assert imported.stdout.strip() == ("imported 2 new, 1 already known, 1 bad row; status pending; "
                                       "confirmations mailed=1 refused=1 skipped=0")
    assert "warning: bob@example.com: confirmation refused: 550 5.1.1 mailbox unavailable" in imported.stderr
    assert smtp_sink.recipients() == ["ann@example.com"]  # Carl is active already: no mail
    (mail,) = smtp_sink.messages()
    link = re.search(r"https://news\.example\.com(/confirm/[\w.-]+)", mail.get_body(("plain",)).get_content())
    assert link, mail.get_body(("plain",)).get_content()

    # Ann follows the link (the same app `serve` runs, on the same var/).
    container = bootstrap(load_settings(var_dir=var_dir, smtp_url=smtp_sink.url))
    try:
        assert TestClient(create_app(container)).get(link.group(1)).status_code == 200
    finally:
        container.close()
    listed = run_cli(["subscribers", "list", "--list", "world", "--json"], env)
    status = {p["email"]: p["subscription"] for p in map(json.loads, listed.stdout.splitlines())}
    assert status == {"carl@example.com": "active", "ann@example.com": "active", "bob@example.com": "pending"}

    # Importing the file again mails only who is still pending: Bob, whose server now accepts.
    again = run_cli(["subscribers", "import", str(people), "--list", "world"], env)
    assert again.stdout.strip().endswith("confirmations mailed=1 refused=0 skipped=0"), again.stdout
    assert smtp_sink.recipients() == ["ann@example.com", "bob@example.com"]
    held = run_cli(["subscribers", "import", str(people), "--list", "world", "--no-mail"], env)
    assert held.stdout.strip().endswith("status pending; 1 confirmation not mailed (--no-mail)")
    assert len(smtp_sink.received) == 2


def test_mail_report_applies_bounces_and_complaints_from_files_or_stdin(
    embedded_env: dict[str, str], var_dir: Path, tmp_path: Path
) -> None:
    env = embedded_env
    readers = tmp_path / "readers.csv"
    readers.write_text("email\nann@example.com\nbob@example.com\n")
    for args in (["lists", "create", "world", "--name", "World news", "--frequency", "daily"],
                 ["subscribers", "import", str(readers), "--list", "world", "--confirmed"],
                 ["articles", "import", SAMPLE], ["digest", "send", "--list", "world", "--wait"]):
        done = run_cli(args, env)
        assert done.returncode == 0, done.stderr
    ids = {m["To"]: m["Message-ID"] for m in (message_from_bytes(p.read_bytes(), policy=policy.default)
                                              for p in (var_dir / "outbox").glob("*.eml"))}
    bounce = tmp_path / "bounce.eml"
    bounce.write_bytes(report_file("postfix-bounce.eml", "ann@example.com", ids["ann@example.com"]))
    reply = tmp_path / "reply.eml"
    reply.write_bytes(report_file("auto-reply.eml", "bob@example.com", ids["bob@example.com"]))
    done = run_cli(["mail", "report", str(bounce), str(reply)], env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith(f"{bounce}: bounced ann@example.com edition=1 delivery=")
    assert lines[1] == f"{reply}: ignored: not a delivery status notification or feedback report"
    assert lines[-1] == "reports: bounced=1 complained=0 ignored=1"

    complaint = report_file("arf-complaint.eml", "bob@example.com", ids["bob@example.com"])
    piped = subprocess.run([sys.executable, "-m", "syndicate.cli.main", "mail", "report", "-"], env=env,
                           input=complaint, capture_output=True, timeout=120, cwd=ROOT)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.decode().splitlines()[-1] == "reports: bounced=0 complained=1 ignored=0"
    listed = run_cli(["subscribers", "list", "--list", "world", "--json"], env)
    assert {p["email"]: p["status"] for p in map(json.loads, listed.stdout.splitlines())} == {
        "ann@example.com": "bounced", "bob@example.com": "complained"}
    missing = run_cli(["mail", "report", str(tmp_path / "nope.eml")], env)
    assert missing.returncode == 2 and "nope.eml: cannot read" in missing.stderr


def test_every_status_option_refuses_an_unknown_value(embedded_env: dict[str, str]) -> None:
    wrong = run_cli(["deliveries", "list", "--status", "delivered"], embedded_env)
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert wrong.stderr.strip() == ("error: --status: 'delivered' is not one of queued, sending, sent, "
                                    "failed, bounced, skipped")
    right = run_cli(["deliveries", "list", "--status", "failed"], embedded_env)
    assert right.returncode == 0, right.stderr
    partner = run_cli(["partners", "deliveries", "1", "--status", "sent"], embedded_env)
    assert partner.returncode == 2 and "'sent' is not one of pending, delivered, dead" in partner.stderr
