"""The OpenAPI document as the API really answers.

FastAPI documents every 422 as its own validation list (`{"detail": [{loc, msg, type}]}`).
Our handlers also answer 422 for rules a type cannot express, with `detail` a message naming the
field (or an object `{field, message}`); the documented schema says so, so clients and the
Schemathesis suite (tests/fuzz) can rely on it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

DETAIL = {
    "title": "Detail",
    "anyOf": [
        {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
        {"type": "string", "description": "a message naming the field and the limit or rule"},
        {"type": "object", "description": "{field, message}"},
    ],
}


def install(app: FastAPI) -> None:
    """Make `app.openapi()` document 422 details as validation lists or named-field messages."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        error = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError")
        if error is not None:
            error["properties"]["detail"] = DETAIL
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


_TEXT = {"type": "string"}
#: Article JSON (the contract's shape) as documentation of `POST /api/articles`, which reads the
#: body itself so that every refusal names its field (syndicate.ingest.validate).
ARTICLE_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object",
        "required": ["title"],
        "properties": {
            "guid": _TEXT, "slug": _TEXT, "title": _TEXT, "summary": _TEXT, "body_html": _TEXT,
            "body_text": _TEXT, "url": _TEXT, "language": _TEXT, "translation_of": _TEXT,
            "published_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "categories": {"type": "array", "items": _TEXT},
            "authors": {"type": "array", "items": _TEXT},
            "images": {"type": "array", "items": {"type": "object", "properties": {
                "url": _TEXT, "alt": _TEXT}}},
        },
    }}},
}
#: The JSON form of `POST /subscribe` (it also takes an HTML form).
SUBSCRIBE_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object",
        "properties": {"email": _TEXT, "lists": {"type": "array", "items": _TEXT}, "language": _TEXT},
    }}},
}
