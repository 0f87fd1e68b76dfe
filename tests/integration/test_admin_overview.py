"""The overview counts readers per list with their growth, draws deliveries per day as inline SVG,
and links every failure count to its rows; articles are searchable and show where each went;
unpublishing asks first."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from syndicate.storage.digest_models import DeliveryRow, SubscriptionRow
from syndicate.storage.models import ArticleCategoryRow
from syndicate.storage.partner_models import PartnerDeliveryRow
from syndicate.web.app import create_app
from tests.integration.test_admin_lists import csrf
from tests.integration.test_admin_pages import seeded
from tests.integration.test_admin_security import sign_in

__all__ = ["seeded"]  # the fixture, shared with test_admin_pages


def test_overview_growth_chart_and_failure_links(seeded: Any) -> None:
    container, _, edition_id, partner_id, boris_id = seeded
    with container.session_factory() as session:
        # One reader joined 20 days ago (counts for 30 days, not 7); yesterday one delivery was sent.
        session.execute(update(SubscriptionRow).where(SubscriptionRow.subscriber_id == boris_id).values(
            created_at=container.now() - timedelta(days=20)))
        sent = sorted(session.scalars(select(DeliveryRow.id).where(DeliveryRow.state == "sent")))
        session.execute(update(DeliveryRow).where(DeliveryRow.id == sent[0]).values(
            sent_at=container.now() - timedelta(days=1)))
        session.execute(update(DeliveryRow).where(DeliveryRow.id == sent[1]).values(sent_at=container.now()))
        session.execute(update(PartnerDeliveryRow).values(status="dead", last_attempt_at=container.now(),
                                                          last_error="connection refused"))
        session.commit()
    client = TestClient(create_app(container))
    sign_in(client)
    page = client.get("/admin").text
    row = re.search(r"<tr><td><a href=\"/admin/lists\">News</a>.*?</tr>", page, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num[^"]*">(?:<strong>)?([^<]+)', row.group(0))
    assert cells == ["3", "+2", "+3", "0", "0"]  # active, +7 days, +30 days, pending, left
    svg = re.search(r'<svg class="chart".*?</svg>', page, re.S)
    assert svg is not None and svg.group(0).count('class="sent"') == 2  # yesterday and today
    today, yesterday = container.now().date(), container.now().date() - timedelta(days=1)
    assert f"<title>{yesterday.isoformat()}: 1 sent, 0 failed</title>" in svg.group(0)
    assert f"<title>{today.isoformat()}: 1 sent, 1 failed</title>" in svg.group(0)
    assert "<script" not in svg.group(0)
    assert '<a class="bad" href="/admin/failures#mail">1 email deliveries failed or bounced.</a>' in page
    assert '<a class="bad" href="/admin/failures#pushes">1 partner pushes gave up.</a>' in page
    assert f'<a class="bad" href="/admin/editions/{edition_id}?state=failed">1</a>' in page
    assert f'<a class="bad" href="/admin/partners/{partner_id}?status=dead">1</a>' in page
    editions = client.get("/admin/editions").text
    assert f'<a class="bad" href="/admin/editions/{edition_id}?state=failed">1</a>' in editions
    partners = client.get("/admin/partners").text
    assert f'<a class="bad" href="/admin/partners/{partner_id}?status=dead">1</a>' in partners
    failures = client.get("/admin/failures").text
    assert "boris@example.org" in failures and "451 4.2.2 mailbox full" in failures
    assert f'href="/admin/subscribers/{boris_id}"' in failures
    assert "Agency &lt;b&gt;" in failures and "connection refused" in failures
    dead = client.get(f"/admin/partners/{partner_id}?status=dead").text
    assert "connection refused" in dead


def test_articles_search_filter_and_where_each_went(seeded: Any) -> None:
    container, article, edition_id, partner_id, _ = seeded
    client = TestClient(create_app(container))
    sign_in(client)
    word = article.title.split()[2]
    found = client.get("/admin/articles", params={"q": word.upper()}).text
    assert f'href="/admin/articles/{article.id}"' in found and "(1 found)" in found
    assert "No article matches." in client.get("/admin/articles", params={"q": "zzz-nothing"}).text
    by_language = client.get("/admin/articles", params={"language": article.language}).text
    assert f'href="/admin/articles/{article.id}"' in by_language
    other = "ru" if article.language != "ru" else "en"
    assert "No article matches." in client.get("/admin/articles", params={"language": other}).text
    assert "No article matches." in client.get("/admin/articles", params={"category": "world"}).text
    with container.session_factory() as session:
        session.add(ArticleCategoryRow(article_id=article.id, category="world", position=0))
        session.commit()
    assert f'href="/admin/articles/{article.id}"' in client.get(
        "/admin/articles", params={"category": "world"}).text
    assert "No article matches." in client.get("/admin/articles", params={"status": "unpublished"}).text
    page = client.get(f"/admin/articles/{article.id}").text
    went = page[page.index('id="went"'):page.index("<h2>Events</h2>")]
    assert f'href="/admin/editions/{edition_id}"' in went
    assert f'<a class="bad" href="/admin/editions/{edition_id}?state=failed">1</a>' in went
    assert f'href="/admin/partners/{partner_id}"' in went and "Agency &lt;b&gt;" in went
    assert "article.published" in went


def test_unpublish_asks_first(seeded: Any) -> None:
    container, article, *_ = seeded
    client = TestClient(create_app(container))
    sign_in(client)
    token = csrf(client.get(f"/admin/articles/{article.id}").text)
    asked = client.post(f"/admin/articles/{article.id}/unpublish", data={"csrf_token": token})
    assert asked.status_code == 200 and "410 Gone" in asked.text
    assert container.article_reader.by_id(article.id).is_published
    refused = client.post(f"/admin/articles/{article.id}/unpublish", data={"confirm": "yes"})
    assert refused.status_code == 403 and container.article_reader.by_id(article.id).is_published
    client.post(f"/admin/articles/{article.id}/unpublish", data={"confirm": "yes", "csrf_token": token})
    assert not container.article_reader.by_id(article.id).is_published
    listed = client.get("/admin/articles", params={"status": "unpublished"}).text
    assert f'href="/admin/articles/{article.id}"' in listed
