"""The admin API of partners under /api/partners (bearer ADMIN_TOKEN)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from syndicate.errors import InvalidPartner, NotFound, PartnerUrlRefused
from syndicate.partners.admin_json import delivery_json, overview_json, partner_json
from syndicate.partners.ports import DeliveryStatus, PartnerInput
from syndicate.web.deps import AdminDep, ContainerDep
from syndicate.web.security import INT64_MAX, DbId

router = APIRouter(prefix="/api/partners", dependencies=[AdminDep])


class PartnerBody(BaseModel):
    """Fields of a partner; on PATCH, omitted fields stay as they are."""

    name: str | None = None
    url: str | None = None
    categories: list[str] | None = None
    language: str | None = None
    rate_limit_per_minute: int | None = Field(default=None, ge=0, le=1_000_000)
    embargoed: bool | None = None
    active: bool | None = None

    def to_input(self) -> PartnerInput:
        return PartnerInput(
            name=self.name, url=self.url, categories=self.categories, language=self.language,
            rate_limit_per_minute=self.rate_limit_per_minute, embargoed=self.embargoed,
        )


class ReplayBody(BaseModel):
    """Exactly one of: an article id, or failed=true; `force` sends an article outside the filters."""

    article_id: int | None = Field(default=None, ge=0, le=INT64_MAX)
    failed: bool = False
    force: bool = False


def _translate(exc: Exception) -> HTTPException:
    if isinstance(exc, NotFound):
        return HTTPException(404, str(exc))
    if isinstance(exc, PartnerUrlRefused):
        return HTTPException(422, {"field": "url", "message": str(exc)})
    if isinstance(exc, InvalidPartner):
        return HTTPException(422, {"field": exc.field, "message": str(exc)})
    raise exc


@router.post("")
def create_partner(body: PartnerBody, container: ContainerDep) -> JSONResponse:
    """Register a partner; 201 with its `secret`, shown this once. 422 names the bad field."""
    try:
        partner, secret = container.partner_registry.add(body.to_input())
    except (InvalidPartner, PartnerUrlRefused) as exc:
        raise _translate(exc) from None
    return JSONResponse({**partner_json(partner), "secret": secret}, status_code=201)


@router.get("")
def list_partners(container: ContainerDep) -> list[dict[str, Any]]:
    """Every partner with delivery counts."""
    return [overview_json(p) for p in container.partner_reads.partners()]


@router.get("/alerts")
def partner_alerts(container: ContainerDep) -> list[dict[str, Any]]:
    """Partners syndicate disabled by itself (410 Gone or failing for days), with the reason."""
    return [partner_json(p) for p in container.partner_reads.alerts()]


@router.get("/{partner_id}")
def show_partner(partner_id: DbId, container: ContainerDep) -> dict[str, Any]:
    """One partner with delivery counts."""
    try:
        return overview_json(container.partner_reads.partner(partner_id))
    except NotFound as exc:
        raise _translate(exc) from None


@router.patch("/{partner_id}")
def edit_partner(partner_id: DbId, body: PartnerBody, container: ContainerDep) -> dict[str, Any]:
    """Change name, URL (guard-checked), filters, rate limit, or enable/disable with `active`."""
    try:
        partner = container.partner_registry.edit(partner_id, body.to_input(), active=body.active)
    except (NotFound, InvalidPartner, PartnerUrlRefused) as exc:
        raise _translate(exc) from None
    return partner_json(partner)


@router.post("/{partner_id}/rotate-secret")
def rotate_secret(partner_id: DbId, container: ContainerDep) -> dict[str, Any]:
    """A new secret; the old one keeps signing alongside until `previous_secret_until`."""
    try:
        rotated = container.partner_registry.rotate_secret(partner_id)
    except NotFound as exc:
        raise _translate(exc) from None
    return {"id": partner_id, "secret": rotated.secret,
            "previous_secret_until": rotated.previous_until.isoformat()}


@router.get("/{partner_id}/deliveries")
def deliveries(
    partner_id: DbId, container: ContainerDep, status: str | None = None,
    limit: int = Query(100, ge=1, le=INT64_MAX),
) -> list[dict[str, Any]]:
    """The delivery log, newest first, each delivery with its attempts."""
    try:
        wanted = DeliveryStatus.parse(status) if status is not None else None
        found = container.partner_reads.delivery_log(partner_id, status=wanted, limit=min(limit, 1000))
    except (NotFound, InvalidPartner) as exc:
        raise _translate(exc) from None
    return [delivery_json(d) for d in found.entries]


@router.post("/{partner_id}/replay")
def replay(partner_id: DbId, body: ReplayBody, container: ContainerDep) -> dict[str, Any]:
    """Queue again the partner's rows of one article, or its dead rows; same webhook-ids."""
    try:
        replay = container.partner_registry.resend(
            partner_id, article_id=body.article_id, failed=body.failed, force=body.force
        )
    except (NotFound, InvalidPartner) as exc:
        raise _translate(exc) from None
    return {"partner_id": partner_id, "queued": replay.ids}
