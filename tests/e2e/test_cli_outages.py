"""Every CLI command meets a database that is down with one line naming it and exit 1."""

from __future__ import annotations

import pytest

from tests.conftest import free_port, run_cli

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
