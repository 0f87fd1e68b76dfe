"""`syndicate partners …` as a user runs it: add prints ID<TAB>whsec_…, bad input exits 2."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.conftest import EXAMPLES, run_cli
from tests.integration.partners_helpers import Receiver

pytest_plugins = ["tests.integration.conftest_partners"]


def test_partner_lifecycle_from_the_cli(embedded_env: dict[str, str], receiver: Receiver) -> None:
    env = embedded_env | {"PARTNER_ALLOW_PRIVATE": "true"}
    added = run_cli(["partners", "add", "Agency", receiver.url(), "--category", "world",
                     "--category", "politics", "--language", "en"], env)
    assert added.returncode == 0, added.stderr
    partner_id, secret = added.stdout.strip().split("\t")
    assert partner_id.isdigit() and re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)

    listed = run_cli(["partners", "list", "--json"], env)
    [shown] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert shown["categories"] == ["world", "politics"] and shown["language"] == "en"
    assert "\"secret\"" not in listed.stdout and secret not in listed.stdout

    rotated = run_cli(["partners", "rotate-secret", partner_id], env)
    new_id, new_secret = rotated.stdout.strip().split("\t")
    assert new_id == partner_id and new_secret != secret and "previous secret" in rotated.stderr

    imported = run_cli(["articles", "import", str(EXAMPLES / "peacekeeping-exercise.json")], env)
    assert imported.returncode == 0, imported.stderr
    article_id = imported.stdout.split("\t")[0]
    # The article is outside the partner's filters: refused, naming both, unless --force.
    refused = run_cli(["partners", "resend", partner_id, "--article", article_id], env)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"error: partner field 'article': article {article_id} (categories security, exercises, "
        f"language en) is outside the filters of partner {partner_id} (categories world, politics, "
        "language en); add --force to send it anyway")
    assert run_cli(["partners", "deliveries", partner_id], env).stdout == ""
    resent = run_cli(["partners", "resend", partner_id, "--article", article_id, "--force"], env)
    assert resent.returncode == 0, resent.stderr
    assert "queued 1 delivery" in resent.stderr
    log = run_cli(["partners", "deliveries", partner_id], env)
    [line] = log.stdout.splitlines()
    assert f"article={article_id}\tpending\tattempts=0" in line and "\tmsg_" in line

    assert run_cli(["partners", "disable", partner_id], env).stdout.strip() == f"{partner_id}\tdisabled"
    listed = run_cli(["partners", "list"], env).stdout
    assert "disabled (disabled by an admin)" in listed
    assert run_cli(["partners", "enable", partner_id], env).stdout.strip() == f"{partner_id}\tactive"


def test_resend_needs_exactly_one_target(embedded_env: dict[str, str]) -> None:
    both = run_cli(["partners", "resend", "1", "--article", "3", "--failed"], embedded_env)
    assert both.returncode == 2 and "exactly one of --article ID or --failed" in both.stderr
    missing = run_cli(["partners", "resend", "42", "--failed"], embedded_env)
    assert missing.returncode == 2 and "partner 42 not found" in missing.stderr


def test_bad_language_is_named(embedded_env: dict[str, str], receiver: Receiver) -> None:
    env: dict[str, Any] = embedded_env | {"PARTNER_ALLOW_PRIVATE": "true"}
    done = run_cli(["partners", "add", "X", receiver.url(), "--language", "not a tag"], env)
    assert done.returncode == 2
    assert "partner field 'language': 'not a tag' is not a BCP 47 language tag" in done.stderr
