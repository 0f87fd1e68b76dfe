"""Rendering: strings by language, inlined CSS, size budget, accessibility bits."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from syndicate.domain.articles import Article, Image
from syndicate.mail.render import Masthead, RenderedEmail, render_confirmation, render_edition


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
    assert 'style="' in html and "font-family" in html  # inlined by premailer
    assert "prefers-color-scheme" in html  # <style> kept for dark mode
    assert r.subject == "World: 2 new articles"


def test_russian_subscribers_get_russian_strings() -> None:
    r = render([article(1), article(2)], language="ru-RU")
    assert "Отписаться" in r.html and "Отписаться" in r.text
    assert r.subject == "World: 2 новые статьи"
    assert render([article(n) for n in range(5)], language="ru").subject == "World: 5 новых статей"
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


def test_digest_is_fluid_below_600_px_and_keeps_its_dark_mode() -> None:
    html = render([article(1), article(2)]).html
    card = re.search(r'<table[^>]*class="card"[^>]*>', html)
    assert card is not None and 'width="100%"' in card.group() and "max-width:600px" in card.group()
    style = html[html.index("<style"):html.index("</head>")]
    assert "@media (prefers-color-scheme: dark)" in style and "#1f1f22 !important" in style
    assert "@media only screen and (max-width: 620px)" in style
    assert '<!--[if mso]><table role="presentation" width="600"' in html  # Outlook keeps a fixed width


def test_header_carries_the_site_title_or_its_logo_and_a_view_in_browser_link() -> None:
    plain = render_edition(list_name="World", frequency="daily", articles=[article(1)], language="ru",
                           base_url="https://news.example.com", max_html_bytes=100_000,
                           masthead=Masthead("Daily Courier"), view_url="https://news.example.com/editions/7?sig=x")
    assert "Daily Courier · World" in plain.html and "news.example.com ·" not in plain.html
    view = r'href="https://news.example.com/editions/7\?sig=x"[^>]*>Открыть в браузере</a>'
    assert re.search(view, plain.html)
    assert "Открыть в браузере: https://news.example.com/editions/7?sig=x" in plain.text
    assert "27 ноября 2026, 08:00 UTC" in plain.html  # dates in the reader's language
    logo = render_edition(list_name="World", frequency="daily", articles=[article(1)], language="en",
                          base_url="https://news.example.com", max_html_bytes=100_000,
                          masthead=Masthead("Daily Courier", "https://cdn.example.com/logo.png"))
    assert '<img src="https://cdn.example.com/logo.png" alt="Daily Courier"' in logo.html


def test_the_web_view_has_no_per_reader_links_left_to_fill() -> None:
    page = render_edition(list_name="World", frequency="daily", articles=[article(1)], language="en",
                          base_url="https://news.example.com", max_html_bytes=100_000, web_view=True,
                          view_url="https://news.example.com/editions/7")
    assert "ZQXH" not in page.html and "Unsubscribe" not in page.html
    assert "View in your browser" not in page.html
    assert "<p>Hello!</p>" in page.html and 'href="https://news.example.com/subscribe"' in page.html


def test_confirmation_mail_says_when_its_link_expires() -> None:
    expires = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
    _, html, text = render_confirmation(list_names=["World"], language="ru", confirm_url="https://n.example/c/a",
                                        base_url="https://n.example", expires_at=expires,
                                        masthead=Masthead("Daily Courier"))
    assert "Ссылка действует до 5 декабря 2026, 18:00 UTC." in html and "до 5 декабря 2026, 18:00 UTC" in text
    assert "Daily Courier" in html
    _, html_en, _ = render_confirmation(list_names=["World"], language="en", confirm_url="https://n.example/c/a",
                                        base_url="https://n.example", expires_at=expires)
    assert "This link works until 5 December 2026, 18:00 UTC." in html_en
