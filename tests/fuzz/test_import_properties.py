"""Hypothesis properties of the article importer (.txt, .md, .json): any input is either one
article or `FILE: field 'NAME': …` (the CLI's `error:` line, exit 2), never a traceback, and a
refused file leaves the database as it was."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from syndicate.errors import InvalidArticle
from syndicate.storage.models import ArticleRow, OutboxRow
from tests.conftest import run_cli

FIELDS = ["guid", "slug", "title", "summary", "body_html", "body_text", "url", "published_at",
          "updated_at", "language", "categories", "authors", "images", "translation_of", "bogus"]
SETTINGS = settings(max_examples=100, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
_names = itertools.count()

dates = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2024-05-01",
                     "2024-05-01T10:00:00Z", "not a date"]),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=40), dates)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=6),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)
field_values = st.one_of(values, st.lists(st.text(max_size=10), max_size=60))
articles = st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=8).map(
    lambda d: {"title": "T", "body_text": "b"} | d)
DEEP = '{"title": "T", "body_text": "b", "categories": %s}'
json_docs = st.one_of(
    articles.map(json.dumps),
    values.map(json.dumps),
    st.integers(1, 3000).map(lambda n: DEEP % ("[" * n + "]" * n)),
    st.text(max_size=200),
)
yaml_values = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40),
    st.sampled_from(["[a, b]", "&x [1, 2]", "*x", "{a: 1}", "0000-01-01T00:00:00Z", "!!binary aGk=",
                     "0001-01-01T00:00:00+14:00", "2024-05-01", "[" * 100 + "]" * 100, "? [a]\n  : b"]),
)
front_matter = st.lists(st.tuples(st.sampled_from(FIELDS), yaml_values), max_size=6).map(
    lambda pairs: "\n".join(f"{k}: {v}" for k, v in pairs))
md_docs = st.tuples(front_matter, st.text(max_size=200)).map(lambda fb: f"---\n{fb[0]}\n---\n{fb[1]}")
txt_docs = st.text(max_size=400)


def counts(container: Any) -> tuple[int, int]:
    with container.session_factory() as s:
        return (int(s.scalar(select(func.count()).select_from(ArticleRow)) or 0),
                int(s.scalar(select(func.count()).select_from(OutboxRow)) or 0))


def check_import(container: Any, folder: Path, suffix: str, text: str) -> None:
    path = folder / f"doc-{next(_names)}{suffix}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    before = counts(container)
    try:
        imported = container.articles.import_file(path)
    except InvalidArticle as exc:
        assert re.match(rf"{re.escape(str(path))}: field '.+': \S", str(exc)), str(exc)
        assert counts(container) == before
    else:
        assert imported.result.article.id is not None


@SETTINGS
@given(text=json_docs)
def test_any_json_file_is_an_article_or_a_named_field_error(
    make_container: Callable[..., Any], tmp_path: Path, text: str
) -> None:
    check_import(_container(make_container), tmp_path, ".json", text)


@SETTINGS
@given(text=md_docs)
def test_any_markdown_file_is_an_article_or_a_named_field_error(
    make_container: Callable[..., Any], tmp_path: Path, text: str
) -> None:
    check_import(_container(make_container), tmp_path, ".md", text)


@SETTINGS
@given(text=txt_docs)
def test_any_text_file_is_an_article_or_a_named_field_error(
    make_container: Callable[..., Any], tmp_path: Path, text: str
) -> None:
    check_import(_container(make_container), tmp_path, ".txt", text)


_CONTAINERS: dict[int, Any] = {}


def _container(make_container: Callable[..., Any]) -> Any:
    # One container per test (the fixture object is the key): Hypothesis runs many examples
    # inside one test function, and migrating a database per example would dominate the run.
    key = id(make_container)
    if key not in _CONTAINERS:
        _CONTAINERS.clear()
        _CONTAINERS[key] = make_container()
    return _CONTAINERS[key]


def test_the_cli_refuses_hostile_files_with_one_line_each(
    tmp_path: Path, embedded_env: dict[str, str]
) -> None:
    article = {"title": "T", "body_text": "b"}
    files = {
        "deep.json": DEEP % ("[" * 1000 + "]" * 1000),
        "deep.md": "---\ncategories: " + "[" * 2000 + "]" * 2000 + "\n---\nBody\n",
        "bomb.md": "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                   "categories: *b\n---\nBody\n",
        "early.json": json.dumps(article | {"published_at": "0001-01-01T00:00:00+14:00"}),
        "late.md": "---\ntitle: T\npublished_at: 9999-12-31T23:59:59-14:00\n---\nBody\n",
        "many.json": json.dumps(article | {"categories": [f"c{n}" for n in range(100_000)]}),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = run_cli(["articles", "import", *(str(tmp_path / n) for n in files)], embedded_env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    expected = {
        "deep.json": r"field '\(document\)': nests deeper than 32 levels",
        "deep.md": r"field '\(front matter\)': nests deeper than 32 levels",
        "bomb.md": r"field '\(front matter\)': uses the YAML alias \*a at line 3",
        "early.json": r"field 'published_at': .* is outside the supported range",
        "late.md": r"field 'published_at': .* is outside the supported range",
        "many.json": r"field 'categories': has 100000 entries; the limit is 50",
    }
    assert len(errors) == len(files)
    for name, pattern in expected.items():
        assert any(re.match(rf"error: {re.escape(str(tmp_path / name))}: {pattern}", e) for e in errors), \
            (name, errors)
    assert "imported 0 of 6 files" in result.stderr


def test_the_cli_reports_an_oversized_csv_field_by_line(tmp_path: Path, embedded_env: dict[str, str]) -> None:
    csv_path = tmp_path / "subs.csv"
    csv_path.write_text("email,name\nok@example.test,Ok\nbig@example.test," + "n" * 140_000 + "\n")
    assert run_cli(["lists", "create", "news", "--name", "News", "--frequency", "daily"],
                   embedded_env).returncode == 0
    result = run_cli(["subscribers", "import", str(csv_path), "--list", "news", "--confirmed"], embedded_env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert re.search(rf"error: {re.escape(str(csv_path))}: line 3: cannot be read as CSV: field larger",
                     result.stderr)
    assert "imported 1 new" in result.stdout
