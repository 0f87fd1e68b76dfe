"""Cleaning pasted press-office text: the sample article must come out clean."""

from __future__ import annotations

from pathlib import Path

from syndicate.ingest.textfile import clean_text_article, guess_language

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "csto-anniversary.txt"
MEDIA = "https://news.example.org/media"


def test_sample_title_paragraphs_and_photos() -> None:
    article, report = clean_text_article(SAMPLE.read_text(), media_base_url=MEDIA)
    assert article["title"] == "A quarter of a century together: CSTO celebrates anniversary"
    paragraphs = article["body_text"].split("\n\n")
    assert len(paragraphs) == 10
    assert paragraphs[0].startswith("A solemn reception of representatives")
    assert paragraphs[-1].endswith("officers of the CSTO Joint Staff.")
    assert report.photos == ["ZVF_4584.JPG", "ZVF_4643.JPG", "ZVF_4646.JPG", "ZVF_4771.JPG"]
    assert [i["url"] for i in article["images"]] == [f"{MEDIA}/{p}" for p in report.photos]
    assert report.navigation == ["Go back", "Back to the all news"]
    body = article["body_text"]
    for trace in ("ZVF_", ".JPG", "Go back", "Back to the all news", "\u00a0"):
        assert trace not in body


def test_sentence_before_run_together_photos_is_kept_whole() -> None:
    text = "Title\n\nThey met the UN, OSCE and CIS. ZVF_1.JPGZVF_2.jpegphoto-3.PNG\n"
    article, report = clean_text_article(text, media_base_url=MEDIA)
    assert article["body_text"] == "They met the UN, OSCE and CIS."
    assert report.photos == ["ZVF_1.JPG", "ZVF_2.jpeg", "photo-3.PNG"]


def test_file_names_inside_urls_or_words_are_not_photos() -> None:
    text = "Title\n\nSee https://example.org/a.jpg and the word gif.\n"
    article, report = clean_text_article(text, media_base_url=MEDIA)
    assert report.photos == []
    assert "https://example.org/a.jpg" in article["body_text"]


def test_navigation_only_removed_at_the_end() -> None:
    text = "Title\n\nGo back\n\nA real paragraph.\n\nНазад\n\nВсе новости"
    article, report = clean_text_article(text, media_base_url=MEDIA)
    assert article["body_text"] == "Go back\n\nA real paragraph."
    assert report.navigation == ["Назад", "Все новости"]


def test_language_guess_by_script() -> None:
    assert guess_language("Министры обороны обсудили учения") == "ru"
    assert guess_language("اجتماع وزراء الدفاع") == "ar"
    assert guess_language("Ministers met in Minsk") is None
