"""What a reader meets on the public pages: sign-up, call-to-action, preferences, error pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from syndicate.digests import subscribers as subs
from syndicate.digests.tokens import MANAGE, Signer
from tests.integration.digest_helpers import SmtpSink, make_list, publish_sample
from tests.integration.test_digest_web import subscriber

pytest_plugins = ["tests.integration.conftest_digests"]
BASE = "https://news.example.com"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def web(make_container: Callable[..., Any], smtp_sink: SmtpSink) -> tuple[Any, TestClient]:
    from syndicate.web.app import create_app

    c = make_container(smtp_url=smtp_sink.url, base_url=BASE, site_title="Daily Courier")
    make_list(c, "world", name="World news", description="The day's events abroad, every morning.",
              language="ru")
    make_list(c, "staff", name="Staff memo", description="Internal.", visibility="private")
    return c, TestClient(create_app(c), base_url="http://testserver")


def test_subscribe_page_offers_public_lists_with_their_description(web: tuple[Any, TestClient]) -> None:
    _, client = web
    page = client.get("/subscribe?email=reader@example.com", headers=HTML)
    assert page.status_code == 200
    assert "World news" in page.text and "The day&#39;s events abroad, every morning." in page.text
    assert "Daily" in page.text and "Русский" in page.text
    assert "Staff memo" not in page.text
    assert 'value="reader@example.com"' in page.text
    assert "<title>Subscribe</title>" in page.text and "Daily Courier" in page.text


def test_form_errors_come_back_on_the_page_next_to_the_field(web: tuple[Any, TestClient]) -> None:
    _, client = web
    bad = client.post("/subscribe", data={"email": "not-an-address", "lists": "world"}, headers=HTML)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    error = re.search(r'<span class="error" id="email-error" role="alert">([^<]+)</span>', bad.text)
    assert error is not None and "not-an-address" in error.group(1)
    assert 'value="not-an-address"' in bad.text and 'value="world" checked' in bad.text
    none = client.post("/subscribe", data={"email": "a@example.com"}, headers=HTML)
    assert none.status_code == 422 and 'id="lists-error"' in none.text


def test_a_private_list_cannot_be_joined_from_the_public_side(web: tuple[Any, TestClient]) -> None:
    _, client = web
    refused = client.post("/subscribe", json={"email": "a@example.com", "lists": ["staff"]})
    assert refused.status_code == 422 and "'staff'" in refused.json()["detail"]


def test_news_and_articles_invite_to_subscribe(web: tuple[Any, TestClient]) -> None:
    c, client = web
    article = publish_sample(c)
    for path in ("/news", f"/news/{article.slug}"):
        page = client.get(path)
        assert "Get the news by email" in page.text
        assert 'action="https://news.example.com/subscribe"' in page.text


def test_browsers_get_html_errors_and_api_clients_json(web: tuple[Any, TestClient]) -> None:
    c, client = web
    page = client.get("/news/nope", headers=HTML)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text and "no article with slug &#39;nope&#39;" in page.text
    api = client.get("/news/nope", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.json() == {"detail": "no article with slug 'nope'"}
    assert client.get("/news?page=abc", headers=HTML).status_code == 422
    assert "Something in the request is wrong" in client.get("/news?page=abc", headers=HTML).text
    assert client.get("/news?page=abc").json()["detail"][0]["loc"] == ["query", "page"]
    assert client.get("/api/articles/999999", headers=HTML).headers["content-type"] == "application/json"
    article = publish_sample(c)
    c.articles.unpublish(article.id)
    gone = client.get(f"/news/{article.slug}", headers=HTML)
    assert gone.status_code == 410 and "This page was removed" in gone.text


def test_preferences_show_joinable_lists_and_leave_everything(
    web: tuple[Any, TestClient], smtp_sink: SmtpSink
) -> None:
    c, client = web
    assert client.post("/subscribe", json={"email": "r@example.com", "lists": ["world"]}).status_code == 202
    link = re.search(rf"{BASE}(/confirm/\S+)", smtp_sink.messages()[0].get_body(("plain",)).get_content())
    assert link is not None and client.get(link.group(1)).status_code == 200
    reader = subscriber(c, "r@example.com")
    token = Signer(c.settings.resolved_secret_key).make(MANAGE, reader.id, (), c.now())
    page = client.get(f"/preferences/{token}")
    assert "World news" in page.text and "The day&#39;s events abroad" in page.text
    assert "Staff memo" not in page.text
    assert ">Русский</option>" in page.text and ">English</option>" in page.text
    staff = subs.list_by_slug(c.digest_uow, "staff")
    sneaky = client.post(f"/preferences/{token}", data={"lists": [str(staff.id)], "language": "en"})
    assert sneaky.status_code == 422 and "private" in sneaky.text
    left = client.post(f"/preferences/{token}/unsubscribe-all")
    assert left.status_code == 200 and "You are unsubscribed" in left.text
    assert subscriber(c, "r@example.com").status == "unsubscribed"


def test_a_russian_reader_reads_russian(web: tuple[Any, TestClient], smtp_sink: SmtpSink) -> None:
    c, client = web
    publish_sample(c)
    ru = {"Accept": "text/html", "Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}
    news = client.get("/news", headers=ru)
    assert "<h1>Новости</h1>" in news.text and "Новости на почту" in news.text
    months = "января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря"
    assert re.search(rf"\d{{1,2}} ({months}) \d{{4}}, \d\d:\d\d UTC", news.text)
    bad = client.post("/subscribe", data={"email": "нет", "lists": "world"}, headers=ru)
    assert bad.status_code == 422 and "«нет» — не адрес электронной почты." in bad.text
    missing = client.get("/news/nope", headers=ru)
    assert missing.status_code == 404 and "Страница не найдена" in missing.text
    assert client.post("/subscribe", json={"email": "ivan@example.com", "lists": ["world"],
                                           "language": "ru"}).status_code == 202
    [confirmation] = smtp_sink.messages()
    assert confirmation["Subject"] == "Подтвердите подписку"
    link = re.search(rf"{BASE}(/confirm/\S+)", confirmation.get_body(("plain",)).get_content())
    assert link is not None and "Ссылка действует до" in confirmation.get_body(("plain",)).get_content()
    confirmed = client.get(link.group(1))
    assert "Подписка подтверждена" in confirmed.text
    manage = re.search(r'href="https://news.example.com(/preferences/[^"]+)"', confirmed.text)
    assert manage is not None
    page = client.get(manage.group(1))  # no Accept-Language: the reader's own language decides
    assert "<h1>Ваша подписка</h1>" in page.text and "Отписаться от всего" in page.text


def test_an_article_page_links_its_other_languages(web: tuple[Any, TestClient]) -> None:
    c, client = web
    c.articles.ingest({"guid": "tag:ministry,2026:river", "title": "River treaty", "language": "en",
                       "body_text": "Signed today.", "slug": "river-treaty"})
    c.articles.ingest({"guid": "tag:ministry,2026:river-ru", "title": "Договор по реке", "language": "ru",
                       "body_text": "Подписан сегодня.", "slug": "river-treaty-ru",
                       "translation_of": "tag:ministry,2026:river"})
    page = client.get("/news/river-treaty", headers=HTML)
    assert page.status_code == 200
    head = page.text.split("</head>", 1)[0]
    assert f'<link rel="alternate" hreflang="ru" href="{BASE}/news/river-treaty-ru">' in head
    assert f'<link rel="alternate" hreflang="en" href="{BASE}/news/river-treaty">' in head
    switcher = re.search(r'<nav class="languages"[^>]*>(.*?)</nav>', page.text, re.S)
    assert switcher is not None
    assert f'<a href="{BASE}/news/river-treaty-ru" hreflang="ru" lang="ru">Русский</a>' in switcher.group(1)
    assert 'aria-current="true" lang="en">English</span>' in switcher.group(1)
    # The translation links back to the original; an article alone has neither.
    back = client.get("/news/river-treaty-ru", headers=HTML).text
    assert f'hreflang="en" href="{BASE}/news/river-treaty">' in back
    alone = client.get(f"/news/{publish_sample(c).slug}", headers=HTML).text
    assert "hreflang" not in alone and 'class="languages"' not in alone
