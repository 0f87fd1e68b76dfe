"""Issue 13, replayed: each hostile request gets a 4xx naming the field, never a 500."""

from __future__ import annotations

import csv
import io
import re
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from syndicate.storage.digest_models import SubscriberRow
from syndicate.storage.models import ArticleRow
from syndicate.web.app import create_app
from tests.integration.digest_helpers import make_list

TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INT64_OVER = "9223372036854775808"


def count(c: Any, table: Any) -> int:
    with c.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


@pytest.fixture
def web(make_container: Callable[..., Any]) -> tuple[Any, TestClient]:
    c = make_container(subscribe_limit_per_hour=5, subscribe_client_limit_per_hour=1000)
    make_list(c)
    return c, TestClient(create_app(c), client=("127.0.0.1", 50000))


def article(**fields: Any) -> dict[str, Any]:
    return {"title": "T", "body_text": "Body", **fields}


def test_deeply_nested_json_article_is_a_422_naming_the_document(web: tuple[Any, TestClient]) -> None:
    c, client = web
    body = '{"title": "T", "body_text": "x", "categories": ' + "[" * 1000 + "]" * 1000 + "}"
    response = client.post("/api/articles", content=body, headers=AUTH | {"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["field"] == "(document)" and "deeper than 32" in response.json()["message"]
    assert count(c, ArticleRow) == 0


def test_deeply_nested_lists_in_subscribe_is_a_422(web: tuple[Any, TestClient]) -> None:
    c, client = web
    body = '{"email": "a@example.test", "lists": ' + "[" * 1000 + "]" * 1000 + "}"
    response = client.post("/subscribe", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and "deeper than 4" in response.json()["detail"]
    assert count(c, SubscriberRow) == 0


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_dates_at_the_ends_of_time_are_a_422_naming_the_field(
    web: tuple[Any, TestClient], value: str
) -> None:
    _, client = web
    response = client.post("/api/articles", json=article(published_at=value), headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "published_at"
    assert "1900-01-01T00:00:00Z .. 9999-12-30T23:59:59Z" in response.json()["message"]


@pytest.mark.parametrize("path", [
    f"/api/articles/{INT64_OVER}", f"/api/articles/{INT64_OVER}/deliveries", f"/api/subscribers/{INT64_OVER}",
    f"/api/editions/{INT64_OVER}", f"/api/partners/{INT64_OVER}", f"/api/subscribers?after_id={INT64_OVER}",
    f"/api/deliveries?edition_id={INT64_OVER}", f"/api/editions?before_id={INT64_OVER}",
    f"/api/articles?offset={INT64_OVER}", f"/admin/articles?page={INT64_OVER}",
    f"/admin/articles/{INT64_OVER}",
])
def test_integers_over_int64_are_a_4xx(web: tuple[Any, TestClient], path: str) -> None:
    _, client = web
    response = client.get(path, headers=AUTH)
    assert response.status_code in (404, 422), (path, response.status_code, response.text[:200])


def test_largest_int64_id_is_a_plain_404(web: tuple[Any, TestClient]) -> None:
    _, client = web
    assert client.get("/api/articles/9223372036854775807", headers=AUTH).status_code == 404


@pytest.mark.parametrize("field", ["categories", "authors"])
def test_100000_categories_or_authors_are_refused(web: tuple[Any, TestClient], field: str) -> None:
    c, client = web
    values = [f"c{n}" for n in range(100_000)]
    tracemalloc.start()
    response = client.post("/api/articles", json=article(**{field: values}), headers=AUTH)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert response.json()["message"] == "has 100000 entries; the limit is 50"
    assert peak < 200 * 1024 * 1024
    assert count(c, ArticleRow) == 0


def test_a_csv_field_over_131072_characters_is_a_row_error(web: tuple[Any, TestClient]) -> None:
    _, client = web
    body = "email,name\nok@example.test,Ok\nlong@example.test," + "n" * 200_000 + "\nafter@example.test,A\n"
    response = client.post("/api/subscribers/import?list=world&confirmed=true", content=body, headers=AUTH)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["imported"] == 2 and data["error_count"] == 1
    assert re.match(r"upload\.csv: line 3: cannot be read as CSV: field larger than field limit",
                    data["errors"][0])


def test_a_long_csv_field_under_the_parser_limit_names_the_column(web: tuple[Any, TestClient]) -> None:
    _, client = web
    body = "email,name\nlong@example.test," + "n" * 5000 + "\n"
    data = client.post("/api/subscribers/import?list=world", content=body, headers=AUTH).json()
    assert data["errors"] == ["upload.csv: line 2: field 'name': is 5000 characters long; the limit is 1000"]


def test_import_as_a_job_reports_progress_and_result(web: tuple[Any, TestClient]) -> None:
    c, client = web
    body = "email\n" + "".join(f"u{n}@example.test\n" for n in range(300)) + "bad\n"
    started = client.post("/api/subscribers/import?list=world&wait=0", content=body, headers=AUTH)
    assert started.status_code == 202
    url = started.headers["location"]
    assert url == started.json()["status_url"]
    deadline = time.monotonic() + 60
    while (job := client.get(url, headers=AUTH).json())["state"] == "running":
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    assert job["state"] == "done"
    assert job["result"]["imported"] == 300 and job["result"]["error_count"] == 1
    assert count(c, SubscriberRow) == 300
    assert client.get("/api/jobs/nope", headers=AUTH).status_code == 404


def test_import_of_a_non_utf8_file_writes_nothing(web: tuple[Any, TestClient]) -> None:
    c, client = web
    body = b"email\n" + b"".join(b"u%d@example.test\n" % n for n in range(3000)) + b"\xff\n"
    response = client.post("/api/subscribers/import?list=world", content=body, headers=AUTH)
    assert response.status_code == 422 and "upload.csv: cannot read as UTF-8" in response.json()["detail"]
    assert count(c, SubscriberRow) == 0


def test_case_variants_of_an_address_share_one_rate_limit(web: tuple[Any, TestClient]) -> None:
    c, client = web
    statuses = [client.post("/subscribe", json={"email": email, "lists": ["world"]}).status_code
                for email in ["target1@example.test"] * 5
                + ["Target1@example.test", "TARGET1@example.test", "tArget1@EXAMPLE.test"]]
    assert statuses == [202] * 5 + [429] * 3
    assert count(c, SubscriberRow) == 1


def test_a_csv_export_never_carries_a_formula(web: tuple[Any, TestClient]) -> None:
    _, client = web
    evil = "=2+5+cmd|'/Ccalc'!A0@example.test"
    assert client.post("/subscribe", json={"email": evil, "lists": ["world"]}).status_code == 202
    client.post("/api/subscribers/import?list=world&confirmed=true", headers=AUTH,
                content=b"email,name\n+plus@example.test,-minus\n")
    exported = client.get("/api/subscribers/export?list=world", headers=AUTH).text
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[1][0] == "'" + evil
    assert rows[2][:2] == ["'+plus@example.test", "'-minus"]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)


def test_subscribe_answers_while_redis_is_down(make_container: Callable[..., Any],
                                               caplog: pytest.LogCaptureFixture) -> None:
    c = make_container(redis_url="redis://127.0.0.1:1/0", subscribe_limit_per_hour=2)
    make_list(c)
    client = TestClient(create_app(c))
    statuses = [client.post("/subscribe", json={"email": "a@example.test", "lists": ["world"]}).status_code
                for _ in range(3)]
    assert statuses == [202, 202, 429]  # the per-process fallback still limits
    assert "rate-limit store unavailable" in caplog.text
