"""The subscriber CSV import on SQLite and PostgreSQL: many rows per statement, the same rules as
adding one reader (case folding, confirmation, suppression), and the API job in its child process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from syndicate.digests import subscribers as subs
from syndicate.ingest.subscribers_csv import import_subscribers
from syndicate.storage.digest_models import SubscriberRow, SubscriptionRow
from syndicate.web.app import create_app
from tests.integration.digest_helpers import make_list

AUTH = {"Authorization": "Bearer test-admin-token-0123456789"}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_container(request: pytest.FixtureRequest, make_container: Callable[..., Any]) -> Any:
    if request.param == "postgresql":
        return make_container(database_url=request.getfixturevalue("pg_url"))
    return make_container()


def state(c: Any, list_id: int) -> dict[str, tuple[str, str | None, str]]:
    """email -> (reader status, subscription status to the list, name)."""
    with c.session_factory() as s:
        readers = {r.id: r for r in s.scalars(select(SubscriberRow))}
        subs_ = {r.subscriber_id: r.status for r in s.scalars(
            select(SubscriptionRow).where(SubscriptionRow.list_id == list_id))}
    return {r.email: (r.status, subs_.get(r.id), r.name) for r in readers.values()}


def test_a_large_file_follows_the_rules_of_one_reader(db_container: Any, tmp_path: Path) -> None:
    c = db_container
    lst = make_list(c)
    other = make_list(c, slug="other")
    now = c.now()
    with c.digest_uow() as work:  # readers known before the import
        subs.add_subscriber(work, email="Known@Example.test", name="Known", language="en", lists=[other],
                            confirmed=False, now=now)
        subs.add_subscriber(work, email="active@example.test", name="A", language="en", lists=[lst],
                            confirmed=True, now=now)
        gone, _ = subs.add_subscriber(work, email="gone@example.test", name="G", language="en", lists=[],
                                      confirmed=True, now=now)
        work.commit()
    subs.suppress(c.digest_uow, gone.id, now=now)
    rows = 1_200  # over the 500 rows of one statement and the 500 rows of one chunk here
    path = tmp_path / "readers.csv"
    readers = "".join(f"r{n}@example.test,Reader {n},ru\n" for n in range(rows))
    path.write_text("email,name,language\n" + readers
                    + "known@example.test,Again,en\nactive@example.test,,\ngone@example.test,,\n"
                    + "bad address,,\nr5@EXAMPLE.test,,\n")
    done = import_subscribers(c.digest_uow, path, lst=lst, confirmed=False, now=now, chunk_rows=500)
    report = done.report
    assert (report.imported, report.existing, done.error_count, done.rows) == (rows, 3, 2, rows + 5)
    assert report.notes == [f"line {rows + 2}: 'known@example.test' is the reader 'Known@example.test' "
                            "already (one reader per address, whatever its case)"]
    after = state(c, lst.id)
    assert after["r0@example.test"] == ("pending", "pending", "Reader 0")
    assert after[f"r{rows - 1}@example.test"] == ("pending", "pending", f"Reader {rows - 1}")
    assert after["Known@example.test"] == ("pending", "pending", "Known")  # the name stays its own
    assert after["active@example.test"] == ("active", "active", "A")  # never demoted
    assert after["gone@example.test"] == ("suppressed", "pending", "G")  # stays suppressed
    # Owed a confirmation: every new reader and the known pending one, not the active nor the suppressed.
    with c.session_factory() as s:
        ids = {email: i for email, i in s.execute(select(SubscriberRow.email, SubscriberRow.id))}
    assert sorted(report.to_confirm) == sorted(
        [ids[f"r{n}@example.test"] for n in range(rows)] + [ids["Known@example.test"]])

    # The same file confirmed: nothing new, everyone but the suppressed reader activated.
    again = import_subscribers(c.digest_uow, path, lst=lst, confirmed=True, now=now, chunk_rows=500)
    assert (again.report.imported, again.report.existing, again.report.to_confirm) == (0, rows + 3, [])
    after = state(c, lst.id)
    assert after["r7@example.test"][:2] == after["Known@example.test"][:2] == ("active", "active")
    assert after["gone@example.test"] == ("suppressed", "active", "G")
    with c.session_factory() as s:
        languages = set(s.scalars(select(SubscriberRow.language).where(SubscriberRow.email.like("r%"))))
    assert languages == {"ru"}


def test_the_api_import_runs_in_a_child_process_on_either_database(db_container: Any) -> None:
    c = db_container
    make_list(c)
    client = TestClient(create_app(c))
    body = "email\n" + "".join(f"u{n}@example.test\n" for n in range(2_500)) + "nope\n"
    response = client.post("/api/subscribers/import?list=world&confirmed=true&wait=60", content=body,
                           headers=AUTH)
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["imported"], data["existing"], data["error_count"]) == (2_500, 0, 1)
    assert len(data["errors"]) == 1 and data["errors"][0].startswith("upload.csv: line 2502: email 'nope'")
    job = client.get(f"/api/jobs/{data['job']}", headers=AUTH).json()
    assert job["state"] == "done" and job["progress"]["rows"] == 2_501
    assert len(state(c, 1)) == 2_500
