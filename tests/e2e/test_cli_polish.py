"""The CLI as a user meets it: --json on every list, plurals, a refusal that names its setting,
`digest send --wait` that returns when a recipient is held back, and `serve --port` links."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import EXAMPLES, ROOT, free_port, run_cli, wait_for
from tests.integration.digest_helpers import SmtpSink

pytest_plugins = ["tests.integration.conftest_digests"]

SAMPLE = str(EXAMPLES / "csto-anniversary.txt")


def _setup(env: dict[str, str], tmp_path: Path, emails: list[str]) -> None:
    assert run_cli(["lists", "create", "world", "--name", "World news", "--frequency", "daily",
                    "--description", "Once a day."], env).returncode == 0
    people = tmp_path / "people.csv"
    people.write_text("email\n" + "".join(f"{e}\n" for e in emails))
    imported = run_cli(["subscribers", "import", str(people), "--list", "world", "--confirmed"], env)
    assert imported.returncode == 0, imported.stderr
    assert run_cli(["articles", "import", SAMPLE], env).returncode == 0


def test_wait_returns_with_the_edition_when_a_recipient_is_held_back(
    embedded_env: dict[str, str], tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    # The first retry an hour away: a --wait that waited for every delivery would block for it.
    env = embedded_env | {"SMTP_URL": smtp_sink.url, "MAIL_RETRY_SECONDS": "3600"}
    _setup(env, tmp_path, ["ann@example.com", "bob@example.com"])
    smtp_sink.replies["bob@example.com"] = ["451 4.3.0 try again later"]
    sent = run_cli(["digest", "send", "--list", "world", "--wait"], env, timeout=120)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip().splitlines()[-1] == "edition=1 sent=1 failed=0 bounced=0 skipped=0"
    assert "edition 1: 1 delivery held back for a later retry" in sent.stderr
    assert "`syndicate editions show 1` follows them" in sent.stderr
    assert smtp_sink.recipients() == ["ann@example.com"]
    shown = json.loads(run_cli(["editions", "show", "1", "--json"], env).stdout)
    assert shown["deliveries"]["queued"] == 1 and shown["deliveries"]["sent"] == 1

    # Plurals: one article in the edition; lists list has --json like every list command.
    listed = run_cli(["editions", "list"], env).stdout
    assert "\t1 article\t" in listed, listed
    (world,) = [json.loads(line) for line in run_cli(["lists", "list", "--json"], env).stdout.splitlines()]
    assert (world["slug"], world["frequency"], world["description"], world["visibility"]) == (
        "world", "daily", "Once a day.", "public")


def test_a_refused_partner_address_names_the_setting_that_allows_it(embedded_env: dict[str, str]) -> None:
    refused = run_cli(["partners", "add", "Local", "http://127.0.0.1:9/hook"], embedded_env)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "127.0.0.1 is in the refused range" in refused.stderr
    assert "PARTNER_ALLOW_PRIVATE=true" in refused.stderr
    allowed = run_cli(["partners", "add", "Local", "http://127.0.0.1:9/hook"],
                      embedded_env | {"PARTNER_ALLOW_PRIVATE": "true"})
    assert allowed.returncode == 0, allowed.stderr


def test_serve_on_another_port_without_base_url_links_to_that_port(
    embedded_env: dict[str, str], tmp_path: Path
) -> None:
    env = embedded_env | {"SECRET_KEY": "test-secret-key-0123456789"}
    assert "BASE_URL" not in env
    assert run_cli(["articles", "import", SAMPLE], env).returncode == 0
    port = free_port()
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "syndicate.cli.main", "serve", "--port", str(port),
                                 "--no-worker"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        def sitemap() -> str:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/sitemap.xml", timeout=5)
            except httpx.HTTPError:
                return ""
            return response.text if response.status_code == 200 else ""

        text = wait_for(sitemap, 60, "serve to answer /sitemap.xml")
        assert f"http://127.0.0.1:{port}/news/" in str(text)
        assert "127.0.0.1:8000" not in str(text)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
