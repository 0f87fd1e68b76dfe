"""Article JSON validation: every bad input names its field; bodies come out safe."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from syndicate.errors import ArticleTooLarge, InvalidArticle
from syndicate.ingest.validate import draft_from_mapping

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def draft(**fields: Any) -> Any:
    data = {"title": "A title", "body_text": "Body."} | fields
    return draft_from_mapping(data, now=NOW, max_body_bytes=1000)


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"colour": "red"}, "colour", "not a known article field"),
        ({"title": None}, "title", "required"),
        ({"title": "   "}, "title", "required"),
        ({"title": 5}, "title", "must be a string"),
        ({"body_text": None}, "body_html", "one of 'body_html' or 'body_text'"),
        ({"published_at": "yesterday"}, "published_at", "'yesterday' is not an RFC 3339"),
        ({"published_at": "2026-01-01T10:00:00"}, "published_at", "no UTC offset"),
        ({"updated_at": "2020-01-01T00:00:00Z", "published_at": "2021-01-01T00:00:00Z"},
         "updated_at", "before published_at"),
        ({"language": "english!"}, "language", "BCP 47"),
        ({"categories": ["Good", "bad slug"]}, "categories", "'bad slug' is not a slug"),
        ({"url": "javascript:alert(1)"}, "url", "absolute http(s) URL"),
        ({"images": [{"url": "ftp://x/y.jpg"}]}, "images[0].url", "not an http(s) URL"),
        ({"body_html": "<script>x</script>", "body_text": None}, "body_html", "empty after sanitizing"),
    ],
)
def test_bad_input_names_the_field(fields: dict[str, Any], field: str, fragment: str) -> None:
    with pytest.raises(InvalidArticle) as info:
        draft(**fields)
    assert info.value.field == field
    assert fragment in str(info.value)


def test_body_over_limit_is_too_large() -> None:
    with pytest.raises(ArticleTooLarge) as info:
        draft(body_text="x" * 1001)
    assert info.value.field == "body_text"
    assert "1001 bytes; the limit is 1000" in str(info.value)


def test_html_is_sanitized() -> None:
    body = (
        '<p onclick="steal()">Hi <script>alert(1)</script><a href="javascript:alert(2)">x</a>'
        '<img src="https://e.org/a.jpg" onerror="alert(3)"><iframe src="https://e.org"></iframe>'
        '<style>p{}</style><!-- c --><a href="https://e.org/ok">ok</a></p>'
    )
    html = draft(body_html=body, body_text=None).body_html
    for bad in ("<script", "alert(1)", "onerror", "onclick", "javascript:", "<iframe", "<style", "<!--"):
        assert bad not in html
    assert '<a href="https://e.org/ok" rel="noopener noreferrer">ok</a>' in html
    assert '<img src="https://e.org/a.jpg">' in html


def test_plain_text_becomes_escaped_paragraphs() -> None:
    html = draft(body_text="One <b>&\n\nTwo\nlines").body_html
    assert html == "<p>One &lt;b&gt;&amp;</p>\n<p>Two<br>\nlines</p>"


def test_xml_forbidden_characters_and_line_breaks_are_removed() -> None:
    d = draft(title="Bad\x00ti\x1ftle\r\nInjected: header", authors=["Ann\nBee\x0b"],
              body_text="ok\x07 text")
    assert d.title == "Badtitle Injected: header"
    assert d.authors == ("Ann Bee",)
    assert "\x07" not in d.body_html


def test_defaults_and_normalisation() -> None:
    d = draft(categories=["World", "world", "security"], published_at="2026-05-01T10:00:00+03:00")
    assert d.language == "en"
    assert d.categories == ("world", "security")
    assert d.published_at == datetime(2026, 5, 1, 7, 0, tzinfo=UTC)
    assert draft().published_at is None  # resolved to "now" (new) or kept (existing) on publish


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Statement <b>on</b> the exercise", "Statement on the exercise"),
        ("AT&amp;T &amp; partners", "AT&T & partners"),
        ("&lt;i&gt;Escaped&lt;/i&gt; markup", "Escaped markup"),
        ("&amp;lt;b&amp;gt;Twice&amp;lt;/b&amp;gt;", "Twice"),
        ("Costs < 5% and > 2%", "Costs < 5% and > 2%"),
        ("Breaking ]]> <script>x</script><!-- note --> now", "Breaking ]]> x now"),
        ("Министры <em>обороны</em>", "Министры обороны"),
        ("Caf&eacute; &#8212; open", "Café — open"),
    ],
)
def test_titles_are_stored_as_text(raw: str, stored: str) -> None:
    assert draft(title=raw).title == stored


def test_title_of_only_markup_is_refused() -> None:
    with pytest.raises(InvalidArticle) as info:
        draft(title="<b></b>")
    assert info.value.field == "title"
