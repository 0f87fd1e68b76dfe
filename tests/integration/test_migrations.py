"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from syndicate.storage import digest_models, feed_models, partner_models  # noqa: F401  (tables)
from syndicate.storage.models import Base


def _insert(conn: Any, now: str, *statements: str) -> None:
    """Run raw INSERTs whose `:t` is `now` (rows written as an older revision's schema has them)."""
    from sqlalchemy import text

    for statement in statements:
        conn.execute(text(statement), {"t": now})


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrated_schema_matches_the_models(
    backend: str, make_container: Callable[..., Any], request: pytest.FixtureRequest
) -> None:
    options = {"database_url": request.getfixturevalue("pg_url")} if backend == "postgresql" else {}
    container = make_container(**options)  # migrated to head
    with container.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_addresses_that_differ_only_in_case_become_one_reader(
    backend: str, tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    from sqlalchemy import text

    from syndicate.storage import db

    sqlite_url = f"sqlite:///{tmp_path}/m.db"
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else sqlite_url
    engine = db.make_engine(url)
    db.upgrade(engine, "0006")
    now = "2026-11-01 10:00:00+00:00"
    with engine.begin() as conn:
        _insert(
            conn, now,
            "INSERT INTO mailing_lists (id, slug, name, frequency, categories, custom_frequency, "
            "created_at) VALUES (1, 'a', 'A', 'daily', '[]', false, :t), "
            "(2, 'b', 'B', 'daily', '[]', false, :t)",
            "INSERT INTO subscribers (id, email, name, language, status, created_at) VALUES "
            "(1, 'Alice@example.org', 'Alice', 'en', 'active', :t), (2, 'alice@example.org', '', 'en', "
            "'active', :t), (3, 'bob@example.org', '', 'en', 'active', :t)",
            "INSERT INTO subscriptions (subscriber_id, list_id, status, created_at) VALUES "
            "(1, 1, 'active', :t), (2, 1, 'pending', :t), (2, 2, 'active', :t)",
            "INSERT INTO editions (id, list_id, frequency, since, until, article_ids, subject, created_at) "
            "VALUES (1, 1, 'daily', :t, :t, '[]', 'S', :t), (2, 2, 'daily', :t, :t, '[]', 'S', :t)",
            "INSERT INTO deliveries (id, edition_id, subscriber_id, state, attempts, next_attempt_at, "
            "updated_at) VALUES (1, 1, 1, 'sent', 1, :t, :t), (2, 1, 2, 'sent', 1, :t, :t), "
            "(3, 2, 2, 'bounced', 1, :t, :t)",
        )
    db.upgrade(engine)
    with engine.connect() as conn:
        readers = conn.execute(text("SELECT id, email, email_key FROM subscribers ORDER BY id")).all()
        subs = conn.execute(text("SELECT subscriber_id, list_id, status FROM subscriptions "
                                 "ORDER BY list_id")).all()
        deliveries = conn.execute(text("SELECT id, subscriber_id, state FROM deliveries ORDER BY id")).all()
    engine.dispose()
    # The oldest reader stays, as first written; the other's list B and edition 2 move to it.
    assert [tuple(r) for r in readers] == [(1, "Alice@example.org", "alice@example.org"),
                                           (3, "bob@example.org", "bob@example.org")]
    assert [tuple(s) for s in subs] == [(1, 1, "active"), (1, 2, "active")]
    assert [tuple(d) for d in deliveries] == [(1, 1, "sent"), (3, 1, "bounced")]


def test_head_revisions_read_from_the_files_agree_with_alembic(tmp_path: Any) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from syndicate.storage import db
    from syndicate.storage.article_list import DriverArticleList
    from syndicate.storage.revisions import MIGRATIONS_DIR, head_revisions

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert head_revisions() == set(ScriptDirectory.from_config(cfg).get_heads())
    url = f"sqlite:///{tmp_path}/h.db"
    listing = DriverArticleList(url)
    assert not listing.schema_current()  # no database file yet
    engine = db.make_engine(url)
    assert not db.is_current(engine)  # no alembic_version table yet
    assert not listing.schema_current()
    db.upgrade(engine, "0006")
    assert not db.is_current(engine) and not listing.schema_current()
    db.upgrade(engine)
    assert db.is_current(engine) and listing.schema_current()


def test_a_database_upgraded_by_a_newer_release_is_refused_in_one_line(embedded_env: dict[str, str]) -> None:
    import sqlite3

    from tests.conftest import run_cli

    assert run_cli(["db", "upgrade"], embedded_env).returncode == 0
    path = Path(embedded_env["VAR_DIR"]) / "syndicate.db"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    for command in (["articles", "list"], ["db", "upgrade"]):
        done = run_cli(command, embedded_env)
        assert done.returncode == 2, (command, done.stderr)
        expected = "error: the database is at migration 9999, which this version"
        assert done.stderr.startswith(expected), done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def _ledger_children(conn: Any) -> tuple[list[Any], list[Any]]:
    from sqlalchemy import text

    attempts = conn.execute(text("SELECT delivery_id FROM delivery_attempts ORDER BY id")).all()
    stories = conn.execute(text("SELECT subscriber_id, delivery_id FROM mailed_stories "
                                "ORDER BY subscriber_id")).all()
    return [a[0] for a in attempts], [tuple(s) for s in stories]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_deleting_a_delivery_or_subscriber_still_deletes_its_attempts_and_stories(
    backend: str, tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    """Migration 0016 replaced the child tables' foreign keys by triggers: a manual DELETE of a
    delivery, or of a subscriber (whose deliveries cascade), takes its children with it, and a
    downgrade puts the foreign keys back."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect, text

    from syndicate.storage import db
    from syndicate.storage.revisions import MIGRATIONS_DIR

    url = request.getfixturevalue("pg_url") if backend == "postgresql" else f"sqlite:///{tmp_path}/c.db"
    engine = db.make_engine(url)
    db.upgrade(engine)
    now = "2026-11-01 10:00:00+00:00"
    with engine.begin() as conn:
        _insert(
            conn, now,
            "INSERT INTO mailing_lists (id, slug, name, frequency, categories, custom_frequency, "
            "created_at) VALUES (1, 'a', 'A', 'daily', '[]', false, :t)",
            "INSERT INTO editions (id, list_id, frequency, since, until, article_ids, subject, "
            "created_at) VALUES (1, 1, 'daily', :t, :t, '[]', 'S', :t)",
            "INSERT INTO subscribers (id, email, email_key, name, language, status, created_at) VALUES "
            + ", ".join(f"({n}, '{c}@example.org', '{c}@example.org', '', 'en', 'active', :t)"
                        for n, c in ((1, "a"), (2, "b"), (3, "c"))),
            "INSERT INTO deliveries (id, edition_id, subscriber_id, state, attempts, next_attempt_at, "
            "updated_at) VALUES " + ", ".join(f"({n}, 1, {n}, 'sent', 1, :t, :t)" for n in (1, 2, 3)),
            "INSERT INTO delivery_attempts (delivery_id, state, reply, at) VALUES "
            + ", ".join(f"({n}, 'sent', '250 ok', :t)" for n in (1, 2, 3)),
            "INSERT INTO mailed_stories (subscriber_id, story, delivery_id, list_id, article_id, "
            "created_at) VALUES " + ", ".join(f"({n}, 's', {n}, 1, 7, :t)" for n in (1, 2, 3)),
        )
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deliveries WHERE id = 1"))
        assert _ledger_children(conn) == ([2, 3], [(2, 2), (3, 3)])
        conn.execute(text("DELETE FROM subscribers WHERE id = 2"))  # its delivery cascades
        assert _ledger_children(conn) == ([3], [(3, 3)])
    assert not inspect(engine).get_foreign_keys("delivery_attempts")
    assert not inspect(engine).get_foreign_keys("mailed_stories")

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0015")
    assert [fk["referred_table"] for fk in inspect(engine).get_foreign_keys("delivery_attempts")] \
        == ["deliveries"]
    assert sorted(fk["referred_table"] for fk in inspect(engine).get_foreign_keys("mailed_stories")) \
        == ["deliveries", "subscribers"]
    with engine.begin() as conn:
        assert _ledger_children(conn) == ([3], [(3, 3)])  # the rebuild kept the rows
        conn.execute(text("DELETE FROM deliveries WHERE id = 3"))  # the keys cascade again
        assert _ledger_children(conn) == ([], [])
    db.upgrade(engine)
    assert db.is_current(engine)
    engine.dispose()
