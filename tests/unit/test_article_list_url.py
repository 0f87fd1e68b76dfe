"""`articles list` reads through the driver DATABASE_URL names: psycopg or a SQLite file, and a
clear error for any other."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicate.errors import ConfigError
from syndicate.storage.article_list import DriverArticleList


@pytest.mark.parametrize("url", ["mysql+pymysql://u@h/db", "postgresql+asyncpg://u@h/db"])
def test_a_url_for_another_driver_is_refused_naming_its_scheme(url: str) -> None:
    with pytest.raises(ConfigError, match=r"DATABASE_URL=" + url.split("://")[0].replace("+", r"\+")):
        DriverArticleList(url)


def test_a_sqlite_file_that_does_not_exist_is_behind_the_schema(tmp_path: Path) -> None:
    listing = DriverArticleList(f"sqlite:///{tmp_path}/none.db")
    assert not listing.schema_current()
    assert not (tmp_path / "none.db").exists()  # reading made no file
