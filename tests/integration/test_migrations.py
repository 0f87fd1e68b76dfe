"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from syndicate.storage import digest_models, feed_models, partner_models  # noqa: F401  (tables)
from syndicate.storage.models import Base


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
