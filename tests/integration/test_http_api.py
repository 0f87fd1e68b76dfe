"""The admin article API and the public pages, through the ASGI app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from syndicate.storage.models import ArticleRow
from syndicate.web.app import create_app

DATA = Path(__file__).resolve().parents[1] / "data"
TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(container: Any) -> TestClient:
    return TestClient(create_app(container))


def article_count(container: Any) -> int:
    with container.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(ArticleRow)) or 0)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_api_requires_the_admin_token(client: TestClient, container: Any, headers: dict[str, str]) -> None:
    response = client.post("/api/articles", json={"title": "T", "body_text": "x"}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/articles/1", headers=headers).status_code == 401
    assert article_count(container) == 0


def test_create_then_update_by_guid(client: TestClient) -> None:
    body = {"guid": "urn:x:1", "title": "Hello", "body_html": "<p>Hi<script>alert(1)</script></p>",
            "categories": ["world"]}
    created = client.post("/api/articles", json=body, headers=AUTH)
    assert created.status_code == 201, created.text
    data = created.json()
    assert data["body_html"] == "<p>Hi</p>"
    assert data["link"] == "http://127.0.0.1:8000/news/hello"
    updated = client.post("/api/articles", json=body | {"title": "Hello again"}, headers=AUTH)
    assert updated.status_code == 200
    assert updated.json()["id"] == data["id"]
    fetched = client.get(f"/api/articles/{data['id']}", headers=AUTH).json()
    assert fetched["title"] == "Hello again" and fetched["guid"] == "urn:x:1"
    assert client.get("/api/articles/999", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body_text": "x"}, "title"),
        ({"title": "T", "body_text": "x", "extra": 1}, "extra"),
        ({"title": "T", "body_text": "x", "published_at": "31/12/2026"}, "published_at"),
        ([1, 2], "(document)"),
    ],
)
def test_bad_article_is_422_naming_the_field(
    client: TestClient, container: Any, body: Any, field: str
) -> None:
    response = client.post("/api/articles", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert article_count(container) == 0


def test_invalid_json_and_oversized_body(client: TestClient, container: Any) -> None:
    json_headers = AUTH | {"content-type": "application/json"}
    response = client.post("/api/articles", content=b"{nope", headers=json_headers)
    assert response.status_code == 422 and response.json()["field"] == "(document)"
    big = json.dumps({"title": "T", "body_text": "x" * (2 * 1024 * 1024 + 1)})
    response = client.post("/api/articles", content=big, headers=json_headers)
    assert response.status_code == 413
    assert response.json()["field"] == "body_text"
    assert article_count(container) == 0


def test_article_page_of_the_sample(client: TestClient, container: Any) -> None:
    article = container.articles.import_file(DATA / "csto-anniversary.txt").result.article
    page = client.get(f"/news/{article.slug}")
    assert page.status_code == 200
    html = page.text
    assert "<h1>A quarter of a century together: CSTO celebrates anniversary</h1>" in html
    assert '<html lang="en">' in html
    assert f'<link rel="canonical" href="http://127.0.0.1:8000/news/{article.slug}">' in html
    assert html.count("<p>") >= 10
    assert "In his greeting, the CSTO Secretary General" in html
    assert "officers of the CSTO Joint Staff." in html
    # The photo files were never uploaded: four labelled placeholders, no broken images.
    assert html.count("<figure") == 4 and "<img " not in html
    assert 'aria-label="A quarter of a century together: CSTO celebrates anniversary (photo 1)"' in html
    assert "Photo 1 — not uploaded yet" in html
    for trace in ("ZVF_4584.JPGZVF", "Go back", "Back to the all news"):
        assert trace not in html
    body = html.split('<div class="body">', 1)[1].split("</div>", 1)[0]
    assert "ZVF_" not in body and ".JPG" not in body


def test_photos_next_to_the_text_file_are_copied_and_shown(
    client: TestClient, container: Any, tmp_path: Path
) -> None:
    source = tmp_path / "press"
    source.mkdir()
    (source / "story.txt").write_text("Title here\n\nBody text. ZVF_1.JPGZVF_2.JPG\n")
    (source / "ZVF_1.JPG").write_bytes(b"\xff\xd8\xff fake jpeg")
    imported = container.articles.import_file(source / "story.txt")
    assert "1 photo file(s) copied to media" in imported.cleaned
    assert (container.settings.var_dir / "media" / "ZVF_1.JPG").read_bytes() == b"\xff\xd8\xff fake jpeg"
    html = client.get("/news/story").text
    assert '<img src="http://127.0.0.1:8000/media/ZVF_1.JPG" alt="Title here (photo 1)"' in html
    assert "Photo 2 — not uploaded yet" in html
    assert client.get("/media/ZVF_1.JPG").content == b"\xff\xd8\xff fake jpeg"


def test_news_list_is_paginated_newest_first(make_container: Any) -> None:
    container = make_container(news_page_size=2)
    client = TestClient(create_app(container))
    for n in range(5):
        client.post("/api/articles", headers=AUTH, json={
            "title": f"Story {n}", "body_text": "x", "published_at": f"2026-01-0{n + 1}T10:00:00Z"})
    first = client.get("/news").text
    assert first.index("Story 4") < first.index("Story 3") and "Story 2" not in first
    assert "Page 1 of 3" in first
    third = client.get("/news?page=3").text
    assert "Story 0" in third and "Story 1" not in third
    assert client.get("/news?page=4").status_code == 404
    assert client.get("/news/no-such-story").status_code == 404


def test_titles_render_inert(client: TestClient) -> None:
    # Tags in a title are dropped at ingestion (titles are text); what is left is escaped.
    created = client.post("/api/articles", headers=AUTH, json={
        "title": "Costs < 5% <img src=x onerror=alert(1)>& more", "body_text": "x", "slug": "xss"})
    assert created.json()["title"] == "Costs < 5% & more"
    html = client.get("/news/xss").text + client.get("/news").text
    assert "<img src=x onerror" not in html
    assert "Costs &lt; 5% &amp; more" in html


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"], body["broker"]) == ("ok", "ok", "ok")
    assert body["scheduler"] == "stale"  # no worker runs beat here: said, and still 200
