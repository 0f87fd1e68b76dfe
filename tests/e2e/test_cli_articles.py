"""`syndicate articles import` as a user runs it: output, idempotency, named errors, no half-writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, run_cli

SAMPLE = str(EXAMPLES / "csto-anniversary.txt")


def listed(env: dict[str, str]) -> list[dict[str, object]]:
    result = run_cli(["articles", "list", "--json"], env)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_import_prints_id_slug_url_and_is_idempotent(embedded_env: dict[str, str]) -> None:
    first = run_cli(["articles", "import", SAMPLE], embedded_env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "1\tcsto-anniversary\thttp://127.0.0.1:8000/news/csto-anniversary\n"
    assert "cleaned: 4 photo file name(s) moved to images" in first.stderr
    assert "2 navigation line(s) removed ('Go back', 'Back to the all news')" in first.stderr
    assert first.stderr.strip().endswith("1 new, 0 updated, 0 unchanged, 0 failed")

    again = run_cli(["articles", "import", SAMPLE], embedded_env)
    assert again.returncode == 0
    assert again.stdout == first.stdout
    assert "0 new, 0 updated, 1 unchanged" in again.stderr
    articles = listed(embedded_env)
    assert len(articles) == 1
    assert articles[0]["title"] == "A quarter of a century together: CSTO celebrates anniversary"


def test_import_all_examples_with_options(embedded_env: dict[str, str]) -> None:
    paths = sorted(str(p) for p in EXAMPLES.iterdir() if p.suffix in {".txt", ".md", ".json"})
    result = run_cli(["articles", "import", *paths, "--category", "press"], embedded_env)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(paths)
    by_slug = {a["slug"]: a for a in listed(embedded_env)}
    assert by_slug["ministers-meeting-ru"]["language"] == "ru"
    assert by_slug["secretariat-briefing"]["categories"] == ["press"]


BAD_INPUTS = [
    ("story.docx", b"PK\x03\x04", "story.docx: field '(file)': type '.docx' is not supported"),
    ("latin.txt", "Caf\xe9\n\nx".encode("latin-1"), "latin.txt: field '(file)': is not UTF-8"),
    ("nul.txt", b"Title\n\n\x00\x01\x02", "nul.txt: field '(file)': is a binary file"),
    ("untitled.json", b'{"body_text": "x"}', "untitled.json: field 'title': is required"),
    ("extra.json", b'{"title": "T", "body_text": "x", "colour": 1}',
     "extra.json: field 'colour': is not a known"),
    ("date.json", b'{"title": "T", "body_text": "x", "published_at": "tomorrow"}',
     "date.json: field 'published_at': 'tomorrow' is not an RFC 3339 date-time"),
    ("big.json", json.dumps({"title": "T", "body_text": "x" * 2_100_000}).encode(),
     "big.json: field 'body_text': is 2100000 bytes; the limit is 2097152"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_exits_2_naming_file_and_field(
    embedded_env: dict[str, str], tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    assert run_cli(["articles", "import", SAMPLE], embedded_env).returncode == 0
    bad = tmp_path / name
    bad.write_bytes(content)
    result = run_cli(["articles", "import", str(bad)], embedded_env)
    assert result.returncode == 2
    assert result.stdout == ""
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert len(listed(embedded_env)) == 1


def test_good_files_are_kept_when_one_of_many_fails(embedded_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    result = run_cli(["articles", "import", SAMPLE, str(bad)], embedded_env)
    assert result.returncode == 2
    assert result.stdout.startswith("1\tcsto-anniversary\t")
    assert "imported 1 of 2 files: 1 new, 0 updated, 0 unchanged, 1 failed" in result.stderr
    assert len(listed(embedded_env)) == 1


def test_production_without_secrets_refuses_to_start(embedded_env: dict[str, str]) -> None:
    env = embedded_env | {"REDIS_URL": "redis://127.0.0.1:6379/0"}
    result = run_cli(["articles", "list"], env)
    assert result.returncode == 2
    assert result.stderr.startswith("error: SECRET_KEY is not set")
