"""Rendering: strings by language, inlined CSS, size budget, accessibility bits."""

from __future__ import annotations

from datetime import UTC, datetime

from syndicate.domain.articles import Article, Image
from syndicate.mail.render import RenderedEmail, render_confirmation, render_edition


def article(n: int, body: str = "<p>Body text of the article.</p>") -> Article:
    now = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    return Article(id=n, guid=f"g{n}", slug=f"story-{n}", title=f"Story number {n}", body_html=body,
                   published_at=now, updated_at=now, summary=f"Summary {n}",
                   images=(Image(url=f"https://cdn.example.com/{n}.jpg", alt=f"Photo {n}"),))


def render(
    articles: list[Article], language: str = "en", limit: int = 100_000, freq: str = "daily"
) -> RenderedEmail:
    return render_edition(list_name="World", frequency=freq, articles=articles, language=language,
                          base_url="https://news.example.com", max_html_bytes=limit)


def test_digest_has_titles_links_alt_text_and_inlined_css() -> None:
    r = render([article(1), article(2)])
    html, text = r.html, r.text
    for n in (1, 2):
        assert f"Story number {n}" in html and f"Story number {n}" in text
        assert "https://news.example.com/news/story-" in text
        assert f'alt="Photo {n}"' in html
    assert 'name="color-scheme"' in html
    assert 'width="600"' in html
    assert 'style="' in html and "font-family" in html  # inlined by premailer
    assert "prefers-color-scheme" in html  # <style> kept for dark mode
    assert r.subject == "World: 2 new articles"


def test_russian_subscribers_get_russian_strings() -> None:
    r = render([article(1), article(2)], language="ru-RU")
    assert "Отписаться" in r.html and "Отписаться" in r.text
    assert r.subject == "World: новых статей — 2"
    assert 'lang="ru"' in r.html


def test_unknown_language_falls_back_to_english() -> None:
    assert "Unsubscribe" in render([article(1)], language="de").html


def test_long_edition_stays_under_budget_and_links_the_rest() -> None:
    many = [article(n, body="<p>" + "word " * 400 + "</p>") for n in range(60)]
    r = render(many, limit=20_000)
    assert len(r.html.encode()) <= 20_000
    assert r.articles_shown < 60
    assert "more articles are waiting" in r.html
    assert "https://news.example.com/news" in r.text


def test_instant_edition_carries_the_sanitized_body() -> None:
    r = render([article(1, body="<p>Full <em>story</em> here.</p>")], freq="instant")
    assert "<em>story</em>" in r.html


def test_confirmation_mail_carries_the_link() -> None:
    subject, html, text = render_confirmation(list_names=["World"], language="ru",
                                              confirm_url="https://n.example/confirm/abc",
                                              base_url="https://n.example")
    assert subject == "Подтвердите подписку"
    assert 'href="https://n.example/confirm/abc"' in html and "https://n.example/confirm/abc" in text
