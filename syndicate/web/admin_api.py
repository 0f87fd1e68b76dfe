"""Admin JSON API beyond articles: lists, subscribers, editions, deliveries, resends (bearer token).

Partners have their own router (syndicate.web.partners_api). Listings page by keyset (`after_id`)
so they stay fast on a million delivery rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from syndicate.digests import subscribers as subs
from syndicate.digests.states import STATES, parse_subscriber_status
from syndicate.domain.articles import article_json
from syndicate.errors import NotFound, SyndicateError, http_status
from syndicate.feeds.model import FeedFormat, specs_of
from syndicate.storage.digest_read import DeliveryView, SubscriberView
from syndicate.web.deps import AdminDep, ContainerDep
from syndicate.web.security import INT64_MAX, DbId, safe_csv_cell

router = APIRouter(prefix="/api", dependencies=[AdminDep], tags=["admin"])
MAX_LIMIT = 500


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _subscriber(row: SubscriberView) -> dict[str, Any]:
    return {"id": row.id, "email": row.email, "name": row.name, "language": row.language,
            "status": row.status, "status_reason": row.status_reason,
            "created_at": _iso(row.created_at), "confirmed_at": _iso(row.confirmed_at)}


def _delivery(row: DeliveryView) -> dict[str, Any]:
    return {"id": row.id, "edition_id": row.edition_id, "subscriber_id": row.subscriber_id,
            "state": row.state, "attempts": row.attempts, "last_reply": row.last_reply,
            "next_attempt_at": _iso(row.next_attempt_at), "sent_at": _iso(row.sent_at),
            "updated_at": _iso(row.updated_at)}


@contextmanager
def not_found_404() -> Iterator[None]:
    """Turn NotFound into HTTP 404 'no KIND with id KEY'."""
    try:
        yield
    except NotFound as exc:
        raise HTTPException(404, f"no {exc.kind} with id {exc.key}") from None


def _fail(exc: SyndicateError) -> HTTPException:
    return HTTPException(http_status(exc), str(exc))


@router.get("/articles")
def list_articles(
    container: ContainerDep, limit: int = Query(50, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0, le=INT64_MAX),
) -> list[dict[str, Any]]:
    """Articles newest first, unpublished ones included (see `unpublished_at`)."""
    rows = container.article_reader.newest(limit=limit, offset=offset, include_unpublished=True)
    return [article_json(a, container.settings.base_url) for a in rows]


@router.get("/articles/{article_id}/deliveries")
def article_deliveries(article_id: DbId, container: ContainerDep) -> dict[str, Any]:
    """Everywhere an article went: the feeds it is in, the editions that carried it, partner pushes."""
    article = container.article_reader.by_id(article_id)
    if article is None:
        raise HTTPException(404, f"no article with id {article_id}")
    editions = container.digest_reads.editions_with_article(article_id, article.published_at)
    pushes = container.partner_reads.pushes_of_article(article_id)
    base = container.settings.base_url
    return {
        "article": article_json(article, base),
        "feeds": [spec.url(base, fmt) for spec in specs_of(article) for fmt in FeedFormat]
        if article.is_published else [],
        "editions": [{"id": e.id, "subject": e.subject, "counts": e.counts} for e in editions],
        "partners": [{"partner_id": partner_id, "partner": name, "event_type": d.event_type,
                      "webhook_id": d.webhook_id, "status": d.status, "attempts": d.attempts,
                      "last_status_code": d.last_status_code, "delivered_at": _iso(d.delivered_at)}
                     for partner_id, name, d in pushes],
    }


@router.get("/lists")
def lists(container: ContainerDep) -> list[dict[str, Any]]:
    """Every mailing list."""
    return [{"id": r.id, "slug": r.slug, "name": r.name, "frequency": r.frequency,
             "language": r.language, "categories": list(r.categories),
             "custom_frequency": r.custom_frequency, "description": r.description,
             "visibility": r.visibility, "repeat_stories": r.repeat_stories}
            for r in subs.all_lists(container.digest_uow)]


@router.get("/subscribers")
def subscribers(
    container: ContainerDep, q: str | None = None, status: str | None = None,
    after_id: int = Query(0, ge=0, le=INT64_MAX), limit: int = Query(100, ge=1, le=MAX_LIMIT),
) -> list[dict[str, Any]]:
    """Subscribers by id; `q` matches the start of the address or the name; 422 on an unknown status."""
    if status is not None:
        try:
            parse_subscriber_status(status)
        except SyndicateError as exc:
            raise _fail(exc) from None
    rows = container.digest_reads.subscribers(q=q, status=status, after_id=after_id, limit=limit)
    return [_subscriber(r) for r in rows]


@router.get("/subscribers/export")
def export_subscribers(container: ContainerDep, list: str = Query(..., alias="list")) -> Response:
    """The list's subscribers as CSV (`email,name,language,status`), importable again.

    `status` is each reader's real one: the subscriber's when it stops all mail (unsubscribed,
    bounced, complained, suppressed), else the subscription's to this list.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["email", "name", "language", "status"])
    try:
        lst, members = subs.members(container.digest_uow, list)
    except SyndicateError as exc:
        raise _fail(exc) from None
    for sub, subscription in members:
        # Addresses may legally start with '=', '+', '-' or '@': never a formula to a spreadsheet.
        writer.writerow([safe_csv_cell(v) for v in (sub.email, sub.name, sub.language,
                                                          subs.reader_status(sub, subscription))])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{lst.slug}.csv"'})


@router.get("/subscribers/{subscriber_id}")
def subscriber(subscriber_id: DbId, container: ContainerDep) -> dict[str, Any]:
    """One subscriber with subscriptions and the newest 100 deliveries."""
    reads = container.digest_reads
    with not_found_404():
        row = reads.subscriber(subscriber_id)
    return _subscriber(row) | {
        "subscriptions": [{"list": lst.slug, "status": s.status, "frequency": s.frequency}
                          for s, lst in reads.subscriptions(subscriber_id)],
        "deliveries": [_delivery(d) for d, _ in reads.history(subscriber_id)],
    }


class SuppressBody(BaseModel):
    """Optional body of a suppression: why (kept in `status_reason`)."""

    reason: str | None = Field(None, max_length=subs.MAX_REASON)


@router.post("/subscribers/{subscriber_id}/suppress")
def suppress(
    subscriber_id: DbId, container: ContainerDep, body: SuppressBody | None = None,
) -> dict[str, Any]:
    """Stop all mail to this subscriber (status `suppressed`, `status_reason` 'suppressed by admin
    API[: reason]'); its queued deliveries are skipped."""
    with not_found_404():
        subs.suppress(container.digest_uow, subscriber_id, now=container.now(), by="admin API",
                      reason=body.reason if body else None)
    return _subscriber(container.digest_reads.subscriber(subscriber_id))


@router.get("/editions")
def editions(
    container: ContainerDep, before_id: DbId | None = None, limit: int = Query(50, ge=1, le=MAX_LIMIT)
) -> list[dict[str, Any]]:
    """Editions newest first with delivery counts by state."""
    return [{"id": e.id, "list": e.list_slug, "frequency": e.frequency, "subject": e.subject,
             "created_at": _iso(e.created_at), "article_ids": e.article_ids, "counts": e.counts}
            for e in container.digest_reads.editions(limit=limit, before_id=before_id)]


@router.get("/editions/{edition_id}")
def edition(edition_id: DbId, container: ContainerDep) -> dict[str, Any]:
    """One edition: its status and counts by state."""
    with not_found_404():
        found = container.digest_reads.edition(edition_id)
    return {"id": found.id, "list_id": found.list_id, "subject": found.subject,
            "frequency": found.frequency, "created_at": _iso(found.created_at),
            "article_ids": found.article_ids, "status": "done" if found.final else "sending",
            "counts": found.counts}


class ResendRequest(BaseModel):
    """Which rows of an edition to queue again; `email` only with mode `to`."""

    mode: Literal["failed-only", "to", "all"]
    email: str | None = None


@router.post("/editions/{edition_id}/resend")
def resend(edition_id: DbId, body: ResendRequest, container: ContainerDep) -> dict[str, Any]:
    """Queue again exactly the rows named, like `syndicate resend edition`."""
    try:
        count = container.digests.resend(edition_id, mode=body.mode, email=body.email)
    except SyndicateError as exc:
        raise _fail(exc) from None
    return {"edition_id": edition_id, "queued": count}


@router.get("/deliveries")
def deliveries(
    container: ContainerDep, state: str | None = None, edition_id: DbId | None = None,
    subscriber_id: DbId | None = None, after_id: int = Query(0, ge=0, le=INT64_MAX),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
) -> list[dict[str, Any]]:
    """Email deliveries filtered by state, edition or subscriber, by id (keyset: `after_id`)."""
    if state is not None and state not in STATES:
        raise HTTPException(422, f"state {state!r} is not one of {', '.join(STATES)}")
    found = container.digest_reads.deliveries(state=state, edition_id=edition_id,
                                                subscriber_id=subscriber_id, after_id=after_id, limit=limit)
    return [_delivery(d) for d in found]
