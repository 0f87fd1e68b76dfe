"""Every admin page and API route refuses anonymous callers; forms need the session's CSRF token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount

from syndicate.web.app import create_app

TOKEN = "test-admin-token-0123456789"
PUBLIC_PREFIXES = ("/news", "/feeds", "/media", "/healthz", "/subscribe", "/confirm", "/unsubscribe",
                   "/preferences", "/docs", "/redoc", "/openapi.json",
                   "/editions")  # an edition's web page opens with the signature its mail carries
PUBLIC_EXACT = {"/", "/admin/login"}


@pytest.fixture
def app(container: Any) -> Any:
    return create_app(container)


def all_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every endpoint, through included routers (old and new FastAPI)."""
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI >= 0.16x keeps included routers nested
            yield from all_routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield prefix + route.path, set(route.methods)
        elif isinstance(route, Mount):
            continue


def admin_routes(app: Any) -> list[tuple[str, str]]:
    routes = []
    for path, methods in all_routes(app.routes):
        if path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES):
            continue
        for method in sorted(methods - {"HEAD"}):
            routes.append((method, re.sub(r"\{[^}]+\}", "1", path)))
    return routes


def test_route_table_has_admin_routes(app: Any) -> None:
    paths = {p for _, p in admin_routes(app)}
    assert {"/admin", "/admin/articles/1", "/admin/logout", "/api/articles", "/api/articles/1"} <= paths


def test_every_admin_route_refuses_anonymous_callers(app: Any) -> None:
    client = TestClient(app, follow_redirects=False)
    open_routes = []
    for method, path in admin_routes(app):
        for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"},
                        {"Accept": "text/html"}):
            response = client.request(method, path, headers=headers)
            refused = response.status_code == 401 or (
                response.status_code == 303 and response.headers["location"].startswith("/admin/login")
            )
            if not refused:
                open_routes.append((method, path, headers, response.status_code))
    assert open_routes == []


def sign_in(client: TestClient, token: str = TOKEN) -> Any:
    form = client.get("/admin/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None
    return client.post("/admin/login", data={"token": token, "csrf_token": csrf.group(1), "next": "/admin"})


def test_sign_in_sets_a_secure_session_cookie(app: Any) -> None:
    client = TestClient(app, follow_redirects=False)
    assert sign_in(client, "not-the-token").status_code == 401
    response = sign_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/admin"
    cookie = response.headers["set-cookie"]
    assert "syndicate_admin=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get("/admin").status_code == 200


def test_sign_in_form_without_csrf_is_refused(app: Any) -> None:
    client = TestClient(app, follow_redirects=False)
    response = client.post("/admin/login", data={"token": TOKEN, "csrf_token": "forged"})
    assert response.status_code == 403
    assert "syndicate_admin" not in response.headers.get("set-cookie", "")


def test_post_forms_need_the_session_csrf_token(app: Any) -> None:
    client = TestClient(app, follow_redirects=False)
    sign_in(client)
    assert client.post("/admin/logout", data={}).status_code == 403
    assert client.post("/admin/logout", data={"csrf_token": "forged"}).status_code == 403
    page = client.get("/admin").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    assert client.post("/admin/logout", data={"csrf_token": csrf.group(1)}).status_code == 303


def test_open_redirects_are_refused(app: Any) -> None:
    client = TestClient(app, follow_redirects=False)
    form = client.get("/admin/login?next=https://evil.example/")
    assert 'name="next" value="/admin"' in form.text


def test_titles_render_inert_in_the_dashboard(app: Any, container: Any) -> None:

    result = container.articles.ingest({"title": "<img src=x onerror=alert(1)>", "body_html":
                                '<p>x<img src="https://e.org/i.png" onerror="alert(2)"></p>'})
    client = TestClient(app, follow_redirects=False)
    sign_in(client)
    for path in ("/admin", "/admin/articles", f"/admin/articles/{result.article.id}"):
        html = client.get(path).text
        assert "<img src=x onerror" not in html
        assert "onerror=" not in html.replace("&lt;img src=x onerror=", "")
