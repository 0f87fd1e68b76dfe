"""Cleaning a press office's pasted plain text into an article: title, paragraphs, photos."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from syndicate.ingest.sanitize import split_paragraphs

# One photo file name: a name of letters, digits, '_', '-' then an image extension. Several are
# often run together with no space ("ZVF_4584.JPGZVF_4643.JPG"), so the run is matched first.
_PHOTO = r"[\w\-]+?\.(?:jpe?g|png|gif|webp)"
_PHOTO_ONE = re.compile(_PHOTO, re.IGNORECASE)
_PHOTO_RUN = re.compile(rf"(?<![\w/.\-])(?:{_PHOTO})+(?!\w)", re.IGNORECASE)

# Site navigation a page copy drags along at its end.
_NAVIGATION = re.compile(
    r"^(?:[←«<\s]*)(?:go back|back|back to (?:the )?(?:all )?news|back to (?:the )?list|"
    r"all news|to the list of news|назад|вернуться(?: назад)?|к списку новостей|все новости|"
    r"print|share|print version)(?:[\s.→»>]*)$",
    re.IGNORECASE,
)


@dataclass
class TextCleaning:
    """What the importer removed from a text file, for its report."""

    photos: list[str] = field(default_factory=list)
    navigation: list[str] = field(default_factory=list)
    language: str | None = None

    def describe(self) -> str:
        """A short human sentence of what was cleaned, or '' when nothing was."""
        parts = []
        if self.photos:
            parts.append(f"{len(self.photos)} photo file name(s) moved to images ({', '.join(self.photos)})")
        if self.navigation:
            quoted = ", ".join(repr(n) for n in self.navigation)
            parts.append(f"{len(self.navigation)} navigation line(s) removed ({quoted})")
        if self.language:
            parts.append(f"language detected from the script: {self.language}")
        return "; ".join(parts)


# Scripts that name one language well enough for a default; anything else stays "en".
_SCRIPTS = (("ru", re.compile(r"[\u0400-\u04FF]")), ("ar", re.compile(r"[\u0600-\u06FF]")))


def guess_language(text: str) -> str | None:
    """'ru' or 'ar' when most letters of `text` are Cyrillic or Arabic, else None."""
    letters = sum(1 for ch in text if ch.isalpha())
    if not letters:
        return None
    for code, pattern in _SCRIPTS:
        if len(pattern.findall(text)) * 2 > letters:
            return code
    return None


def _normalize(paragraph: str) -> str:
    # str.split() without arguments also splits on NO-BREAK SPACE and other Unicode spaces.
    return "\n".join(" ".join(line.split()) for line in paragraph.splitlines() if line.split())


def clean_text_article(text: str, *, media_base_url: str) -> tuple[dict[str, Any], TextCleaning]:
    """Article JSON from pasted text: first line the title, blank lines between paragraphs."""
    report = TextCleaning()
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    title = lines[0].strip() if lines else ""
    paragraphs = split_paragraphs("\n".join(lines[1:]))

    cleaned: list[str] = []
    for para in paragraphs:
        for run in _PHOTO_RUN.findall(para):
            report.photos.extend(_PHOTO_ONE.findall(run))
        para = _normalize(_PHOTO_RUN.sub(" ", para))
        if para:
            cleaned.append(para)

    while cleaned and _NAVIGATION.match(cleaned[-1]):
        report.navigation.insert(0, cleaned.pop())
    # Navigation lines may also share one paragraph ("Go back\nBack to the all news").
    if cleaned:
        kept = cleaned[-1].split("\n")
        while kept and _NAVIGATION.match(kept[-1]):
            report.navigation.insert(0, kept.pop())
        cleaned[-1] = "\n".join(kept)
        if not cleaned[-1]:
            cleaned.pop()

    images = [{"url": f"{media_base_url}/{name}"} for name in dict.fromkeys(report.photos)]
    article: dict[str, Any] = {"title": title, "body_text": "\n\n".join(cleaned)}
    report.language = guess_language(title + " " + article["body_text"])
    if report.language:
        article["language"] = report.language
    if images:
        article["images"] = images
    return article, report
