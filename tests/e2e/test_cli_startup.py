"""`syndicate --help` and reading commands start without importing what they do not use.

On imports, not timings: a user notices a CLI that takes seconds to print its help, and what it
imports is what makes it slow (Celery, premailer, SQLAlchemy's ORM, FastAPI, Alembic).
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, production_env, run_cli


def _imported(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "syndicate.cli.main", *args],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
               if line.startswith("import time:") and "|" in line}
    return done, modules


def test_help_imports_no_framework(embedded_env: dict[str, str]) -> None:
    done, modules = _imported(["--help"], embedded_env)
    assert done.returncode == 0 and "articles" in done.stdout and "serve" in done.stdout
    assert "typer" in modules  # the measurement works
    for heavy in ("celery", "premailer", "sqlalchemy", "sqlalchemy.orm", "fastapi", "alembic", "kombu"):
        assert heavy not in modules, f"`syndicate --help` imports {heavy}"
    done, modules = _imported(["digest", "--help"], embedded_env)
    assert done.returncode == 0 and "send" in done.stdout
    assert not {"celery", "premailer", "sqlalchemy", "fastapi"} & modules


def test_articles_list_reads_through_the_driver_alone(embedded_env: dict[str, str]) -> None:
    assert run_cli(["db", "upgrade"], embedded_env).returncode == 0
    imported = run_cli(["articles", "import", str(ROOT / "examples" / "peacekeeping-exercise.json")],
                       embedded_env)
    assert imported.returncode == 0, imported.stderr
    done, modules = _imported(["articles", "list"], embedded_env)
    assert done.returncode == 0 and "peacekeeping" in done.stdout.lower(), done.stderr[-2000:]
    assert "sqlite3" in modules  # the measurement works
    # rich (and typer.rich_utils, its Markdown, tables, tracebacks) renders help, errors, progress.
    # The list is read by the database's driver: no SQLAlchemy at all, no container.
    for heavy in ("celery", "premailer", "fastapi", "alembic", "kombu", "typer.rich_utils", "rich",
                  "sqlalchemy", "syndicate.bootstrap", "syndicate.storage.db"):
        assert heavy not in modules, f"`syndicate articles list` imports {heavy}"
    assert "syndicate.storage.article_list" in modules


def test_articles_list_of_a_new_embedded_database_migrates_it_first(embedded_env: dict[str, str]) -> None:
    done = run_cli(["articles", "list"], embedded_env)
    assert done.returncode == 0 and done.stdout == "", done.stderr
    assert run_cli(["articles", "import", str(ROOT / "examples" / "peacekeeping-exercise.json")],
                   embedded_env).returncode == 0
    assert "peacekeeping" in run_cli(["articles", "list"], embedded_env).stdout.lower()


def test_articles_list_on_postgresql_behind_the_schema_says_to_upgrade(
        embedded_env: dict[str, str], pg_url: str) -> None:
    env = production_env(embedded_env, database_url=pg_url, redis_url="redis://127.0.0.1:6379/0",
                         queue="syndicate-cli-startup")
    done = run_cli(["articles", "list"], env)  # an empty database: no alembic_version yet
    assert done.returncode == 2 and "run `syndicate db upgrade` first" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert run_cli(["db", "upgrade"], env).returncode == 0
    assert run_cli(["articles", "import", str(ROOT / "examples" / "peacekeeping-exercise.json")],
                   env).returncode == 0
    done = run_cli(["articles", "list", "--json"], env)
    assert done.returncode == 0 and '"categories": ["security", "exercises"]' in done.stdout, done.stderr
