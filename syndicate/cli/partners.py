"""`syndicate partners …`: register partners, rotate secrets, read the delivery log, resend."""

# No `from __future__ import annotations` here: cli/main.py says why.

import json
from typing import TYPE_CHECKING, Annotated

import typer

from syndicate.cli.common import check_broker, command_container, edge, err, fail, report_broker_myself

if TYPE_CHECKING:
    from syndicate.bootstrap import Container

partners_app = typer.Typer(no_args_is_help=True, help="Partner endpoints (signed pushes).")


def _container() -> "Container":
    report_broker_myself()
    return command_container(check_schema=True)


@partners_app.command("add")
@edge
def add(
    name: Annotated[str, typer.Argument(help="Partner name.")],
    url: Annotated[str, typer.Argument(help="http(s) endpoint receiving the pushes.")],
    category: Annotated[
        list[str] | None, typer.Option("--category", help="Only these categories (repeatable).")
    ] = None,
    language: Annotated[str | None, typer.Option(help="Only articles in this language.")] = None,
    rate_limit: Annotated[
        int | None, typer.Option("--rate-limit", help="At most this many pushes per minute.")
    ] = None,
    embargoed: Annotated[
        bool, typer.Option("--embargoed", help="Also receive scheduled articles ahead of their "
                                               "release (article.embargoed, with embargo_until).")
    ] = False,
) -> None:
    """Register a partner; prints ID<TAB>whsec_… (the secret is shown only this once)."""
    from syndicate.errors import PartnerUrlRefused
    from syndicate.partners.ports import PartnerInput

    c = _container()
    try:
        partner, secret = c.partner_registry.add(
            PartnerInput(name=name, url=url, categories=category or (), language=language,
                         rate_limit_per_minute=rate_limit, embargoed=embargoed),
        )
    except PartnerUrlRefused as exc:
        if "refused address" not in exc.reason or c.settings.partner_allow_private:
            raise
        raise fail(f"{exc} (PARTNER_ALLOW_PRIVATE=true allows partners on loopback and private "
                   "LAN addresses)") from None
    typer.echo(f"{partner.id}\t{secret}")


@partners_app.command("list")
@edge
def list_(as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False) -> None:
    """List partners: ID, state, delivery counts, name, URL."""
    from syndicate.partners.admin_json import overview_json
    from syndicate.partners.ports import DeliveryStatus

    for overview in _container().partner_reads.partners():
        if as_json:
            typer.echo(json.dumps(overview_json(overview), ensure_ascii=False))
            continue
        p, d = overview.partner, overview.deliveries
        state = "active" if p.active else f"disabled ({p.disabled_reason})"
        typer.echo(
            f"{p.id}\t{state}\tdelivered={d[DeliveryStatus.DELIVERED]} "
            f"pending={d[DeliveryStatus.PENDING]} dead={d[DeliveryStatus.DEAD]}\t{p.name}\t{p.url}"
        )


@partners_app.command("rotate-secret")
@edge
def rotate_secret(partner_id: Annotated[int, typer.Argument(help="Partner ID.")]) -> None:
    """New secret; prints ID<TAB>whsec_…; the old one keeps signing alongside for the overlap."""
    rotated = _container().partner_registry.rotate_secret(partner_id)
    typer.echo(f"{partner_id}\t{rotated.secret}")
    err().print(f"previous secret also signs until {rotated.previous_until.isoformat()}", markup=False)


@partners_app.command("disable")
@edge
def disable(partner_id: Annotated[int, typer.Argument(help="Partner ID.")]) -> None:
    """Stop pushing to a partner; its pending deliveries wait."""
    _container().partner_registry.set_active(partner_id, False)
    typer.echo(f"{partner_id}\tdisabled")


@partners_app.command("enable")
@edge
def enable(partner_id: Annotated[int, typer.Argument(help="Partner ID.")]) -> None:
    """Resume pushing; waiting deliveries become due now."""
    _container().partner_registry.set_active(partner_id, True)
    typer.echo(f"{partner_id}\tactive")


@partners_app.command("deliveries")
@edge
def deliveries(
    partner_id: Annotated[int, typer.Argument(help="Partner ID.")],
    status: Annotated[str | None, typer.Option(help="pending, delivered or dead.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, with attempts.")] = False,
) -> None:
    """The delivery log: ID, webhook-id, event, article, status, attempts, last error."""
    from syndicate.partners.admin_json import delivery_json
    from syndicate.partners.ports import DeliveryStatus

    wanted = DeliveryStatus.parse(status) if status is not None else None
    found = _container().partner_reads.delivery_log(partner_id, status=wanted, limit=limit)
    for d in found.entries:
        if as_json:
            typer.echo(json.dumps(delivery_json(d), ensure_ascii=False))
        else:
            typer.echo(
                f"{d.id}\t{d.webhook_id}\t{d.event_type}\tarticle={d.article_id}"
                f"\t{d.status.value}\tattempts={d.attempts}\t{d.last_error or ''}".rstrip()
            )


@partners_app.command("resend")
@edge
def resend(
    partner_id: Annotated[int, typer.Argument(help="Partner ID.")],
    article: Annotated[int | None, typer.Option("--article", help="Resend this article.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Resend every dead delivery.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="With --article: send it even if outside the partner's filters.")] = False,
) -> None:
    """Queue again exactly the named deliveries, with their original webhook-ids.

    An article outside the partner's category/language filters is refused unless --force.
    """
    if (article is None) == (not failed):
        raise fail("give exactly one of --article ID or --failed")
    c = _container()
    replay = c.partner_registry.resend(partner_id, article_id=article, failed=failed, force=force)
    for delivery_id in replay.ids:
        typer.echo(str(delivery_id))
    if replay.paused:
        err().print(f"partner {partner_id} is disabled: they go out once it is enabled", markup=False)
    n = len(replay.ids)
    plural = f"{n} deliver{'y' if n == 1 else 'ies'}"
    check_broker(c, f"{plural} {'waits' if n == 1 else 'wait'} in the database as pending; the "
                    "partners sweep pushes them once it is back")
    err().print(f"queued {plural}", markup=False)
