"""Reading article files: types, encodings and front matter, with the file named in errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicate.errors import InvalidArticle, UnsupportedInput
from syndicate.ingest.files import read_article_file


def read(path: Path) -> dict[str, object]:
    return read_article_file(path, media_base_url="https://m.example", max_body_bytes=10_000).data


def test_unsupported_type(tmp_path: Path) -> None:
    path = tmp_path / "story.docx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(UnsupportedInput) as info:
        read(path)
    assert str(info.value) == f"{path}: field '(file)': type '.docx' is not supported; use .json, .md or .txt"


def test_not_utf8_and_binary(tmp_path: Path) -> None:
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Caf\xe9\n\nbody".encode("latin-1"))
    expected = r"latin.txt: field '\(file\)': is not UTF-8 \(invalid byte 0xe9"
    with pytest.raises(UnsupportedInput, match=expected):
        read(latin)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b'{"title": "x\x00"}')
    with pytest.raises(UnsupportedInput, match="binary file"):
        read(binary)


def test_markdown_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "Hello World.md"
    path.write_text(
        "---\ntitle: Hi\npublished_at: 2026-01-01T10:00:00+02:00\ncategories: [a, b]\n---\n"
        "Some *text*.\n"
    )
    data = read(path)
    assert data["title"] == "Hi"
    assert data["published_at"] == "2026-01-01T10:00:00+02:00"
    assert data["categories"] == ["a", "b"]
    assert data["body_html"] == "<p>Some <em>text</em>.</p>\n"
    assert data["slug"] == "hello-world"


def test_markdown_title_from_heading_and_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "h.md"
    path.write_text("# The heading\n\nText.\n")
    assert read(path)["title"] == "The heading"
    bad = tmp_path / "bad.md"
    bad.write_text("---\ntitle: [unclosed\n---\nText\n")
    with pytest.raises(InvalidArticle, match=r"bad.md: field '\(front matter\)': is not valid YAML"):
        read(bad)


def test_invalid_json_names_line(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{"title": "x",\n "body_text": }')
    with pytest.raises(InvalidArticle, match=r"a.json: field '\(document\)': is not valid JSON: .* line 2"):
        read(path)
