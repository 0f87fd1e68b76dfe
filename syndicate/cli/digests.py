"""CLI of lists, subscribers, digests, editions, resends and email deliveries."""

# No `from __future__ import annotations` here: cli/main.py says why.

import json
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from syndicate.cli.common import (
    EXIT_BAD_INPUT,
    check_broker,
    command_container,
    edge,
    err,
    fail,
    plural,
    report_broker_myself,
)
from syndicate.digests.states import DeliveryState, parse_state
from syndicate.errors import InvalidDigestInput

if TYPE_CHECKING:
    from syndicate.bootstrap import Container
    from syndicate.digests.optin import PendingConfirmation
    from syndicate.mail.transport import SendResult
    from syndicate.storage.digest_read import EditionView

#: How long `digest send --wait` waits for a database that went away before it gives up (exit 1).
DATABASE_PATIENCE_S = 300.0
#: `digest send --wait` waits for retries due within this many seconds; a later one ends the wait.
RETRY_PATIENCE_S = 30.0

lists_app = typer.Typer(no_args_is_help=True, help="Mailing lists (newsletters).")
subscribers_app = typer.Typer(no_args_is_help=True, help="Subscribers of mailing lists.")
digest_app = typer.Typer(no_args_is_help=True, help="Build and send digests.")
editions_app = typer.Typer(no_args_is_help=True, help="Editions that were built and sent.")
resend_app = typer.Typer(no_args_is_help=True, help="Send edition deliveries again.")
deliveries_app = typer.Typer(no_args_is_help=True, help="Email deliveries (the ledger).")


def _container() -> "Container":
    report_broker_myself()
    return command_container()


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidDigestInput(f"{option} must be ISO 8601 with an offset, got {value!r}") from None
    if parsed.tzinfo is None:
        raise InvalidDigestInput(f"{option} needs a UTC offset (e.g. +00:00), got {value!r}")
    return parsed


@lists_app.command("create")
@edge
def lists_create(
    slug: Annotated[str, typer.Argument(help="Short name, a-z 0-9 - _.")],
    name: Annotated[str, typer.Option(help="Name shown in emails.")],
    frequency: Annotated[str, typer.Option(help="instant, daily or weekly.")],
    language: Annotated[str | None, typer.Option(help="Only articles in this language.")] = None,
    category: Annotated[list[str] | None, typer.Option("--category", help="Only these (repeatable).")] = None,
    custom_frequency: Annotated[bool, typer.Option(
        "--custom-frequency", help="Subscribers may choose their own frequency.")] = False,
    description: Annotated[str, typer.Option(help="One or two sentences shown on the sign-up page.")] = "",
    private: Annotated[bool, typer.Option(
        "--private", help="Not offered on the public pages; only an admin adds readers.")] = False,
    repeat_stories: Annotated[bool, typer.Option(
        "--repeat-stories", help="Mail stories readers already had through another list.")] = False,
) -> None:
    """Create a list; prints ID<TAB>SLUG."""
    from syndicate.digests import subscribers as subs

    c = _container()
    created = subs.create_list(c.digest_uow, slug=slug, name=name, frequency=frequency, language=language,
                               categories=category or [], custom_frequency=custom_frequency, now=c.now(),
                               description=description, visibility="private" if private else "public",
                               repeat_stories=repeat_stories)
    typer.echo(f"{created.id}\t{created.slug}")


@lists_app.command("edit")
@edge
def lists_edit(
    slug: Annotated[str, typer.Argument(help="The list to change.")],
    repeat_stories: Annotated[bool | None, typer.Option(
        "--repeat-stories/--no-repeat-stories",
        help="Mail stories readers already had through another list (a round-up), or not.")] = None,
) -> None:
    """Change a list's settings; prints ID<TAB>SLUG<TAB>repeat_stories=true|false."""
    from syndicate.digests import subscribers as subs

    c = _container()
    lst = subs.list_by_slug(c.digest_uow, slug)
    if repeat_stories is not None:
        lst = subs.set_repeat_stories(c.digest_uow, slug, repeat_stories)
    typer.echo(f"{lst.id}\t{lst.slug}\trepeat_stories={str(lst.repeat_stories).lower()}")


@lists_app.command("list")
@edge
def lists_list(as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False) -> None:
    """Every list: ID, slug, frequency, name, visibility."""
    from syndicate.digests import subscribers as subs

    c = _container()
    for lst in subs.all_lists(c.digest_uow):
        if as_json:
            typer.echo(json.dumps({
                "id": lst.id, "slug": lst.slug, "name": lst.name, "frequency": lst.frequency,
                "language": lst.language, "categories": list(lst.categories),
                "custom_frequency": lst.custom_frequency, "description": lst.description,
                "visibility": lst.visibility}, ensure_ascii=False))
        else:
            typer.echo(f"{lst.id}\t{lst.slug}\t{lst.frequency}\t{lst.name}\t{lst.visibility}")


@subscribers_app.command("import")
@edge
def subscribers_import(
    csv_path: Annotated[Path, typer.Argument(metavar="CSV", help="Header row: email[,name,language].")],
    list_slug: Annotated[str, typer.Option("--list", help="The list to subscribe them to.")],
    confirmed: Annotated[bool, typer.Option("--confirmed", help="Addresses already opted in.")] = False,
    no_mail: Annotated[
        bool, typer.Option("--no-mail", help="Without --confirmed: do not mail confirmation links now.")
    ] = False,
) -> None:
    """Import subscribers; bad rows are reported by line on stderr, the rest are imported.

    Without --confirmed the imported addresses stay pending and each is mailed a confirmation
    link (double opt-in); importing the same file again mails those still pending again.
    """
    from syndicate.digests import subscribers as subs
    from syndicate.ingest.subscribers_csv import import_subscribers

    c = _container()
    lst = subs.list_by_slug(c.digest_uow, list_slug)
    done = import_subscribers(c.digest_uow, csv_path, lst=lst, confirmed=confirmed, now=c.now(),
                              chunk_rows=c.settings.import_chunk_rows)
    report = done.report
    for line in report.notes:
        err().print(f"note: {csv_path}: {line}", markup=False, soft_wrap=True)
    for line in report.errors:
        err().print(f"error: {line}", markup=False, soft_wrap=True)
    if done.error_count > len(report.errors):
        err().print(f"error: {plural(done.error_count - len(report.errors), 'more bad row')} not shown",
                  markup=False)
    if confirmed:
        status = "active"
    elif no_mail:
        status = f"pending; {plural(len(report.to_confirm), 'confirmation')} not mailed (--no-mail)"
    else:
        status = "pending; " + _mail_confirmations(c, report.to_confirm, lst.id)
    typer.echo(f"imported {report.imported} new, {report.existing} already known, "
               f"{plural(done.error_count, 'bad row')}; status {status}")
    if done.error_count:
        raise typer.Exit(EXIT_BAD_INPUT)


def _mail_confirmations(c: "Container", subscriber_ids: list[int], list_id: int) -> str:
    """Mail the confirmation links with a progress bar; returns 'confirmations mailed=N ...'."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from syndicate.digests.optin import PendingConfirmation

    tally = {"mailed": 0, "refused": 0, "skipped": 0}
    columns = (TextColumn("confirmations"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err(), transient=True,
                  disable=len(subscriber_ids) < 5) as progress:
        task = progress.add_task("mailing", total=len(subscriber_ids))

        def each(_: "PendingConfirmation", address: str, result: "SendResult | None") -> None:
            if result is None:
                tally["skipped"] += 1
            elif result.ok:
                tally["mailed"] += 1
            else:
                tally["refused"] += 1
                err().print(f"warning: {address}: confirmation refused: {result.describe()}", markup=False)
            progress.advance(task)

        c.optin.send_confirmations(
            [PendingConfirmation(i, (list_id,)) for i in subscriber_ids], on_each=each)
    return "confirmations " + " ".join(f"{k}={v}" for k, v in tally.items())


@subscribers_app.command("list")
@edge
def subscribers_list(
    list_slug: Annotated[str, typer.Option("--list", help="The list.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """Subscribers of a list: ID, email, status, subscription status, language, frequency."""
    from syndicate.digests import subscribers as subs

    c = _container()
    lst, members = subs.members(c.digest_uow, list_slug)
    for s, sub in members:
        freq = sub.frequency or lst.frequency
        if as_json:
            typer.echo(json.dumps({"id": s.id, "email": s.email, "name": s.name, "status": s.status,
                                   "subscription": sub.status, "language": s.language,
                                   "frequency": freq}, ensure_ascii=False))
        else:
            typer.echo(f"{s.id}\t{s.email}\t{s.status}\t{sub.status}\t{s.language}\t{freq}")


def summary(edition_id: int, counts: dict[DeliveryState, int]) -> str:
    """The contract's closing line of `digest send --wait`."""
    return (f"edition={edition_id} sent={counts[DeliveryState.SENT]} failed={counts[DeliveryState.FAILED]} "
            f"bounced={counts[DeliveryState.BOUNCED]} skipped={counts[DeliveryState.SKIPPED]}")


def _send_inline(c: "Container", edition_id: int) -> None:
    # Embedded mode may have no worker running: send here; row claims keep a worker harmless.
    c.digests.send_batch(edition_id, 0, 2**62)


class _HeldBack(Exception):
    """The first pass is over: every delivery still queued waits for a later retry."""

    def __init__(self, counts: dict[DeliveryState, int], next_at: datetime) -> None:
        super().__init__()
        self.counts, self.next_at = counts, next_at


def _held_back_until(c: "Container", edition_id: int) -> datetime | None:
    """The earliest retry time when every queued delivery of the edition was tried and waits
    for a later retry (a 4xx reply); None while any is still due now."""
    now = c.now()
    earliest: datetime | None = None
    for row in c.digest_reads.deliveries(state=DeliveryState.QUEUED, edition_id=edition_id):
        if row.attempts == 0 or row.next_attempt_at <= now:
            return None
        earliest = row.next_attempt_at if earliest is None else min(earliest, row.next_attempt_at)
    return earliest


def _wait(c: "Container", edition_id: int) -> tuple[dict[DeliveryState, int], datetime | None]:
    """Show progress until the first pass over the edition is over; the counts then, and when
    deliveries held back for a later retry are next tried (None when every delivery is final).

    A recipient whose server answered 4xx is retried minutes to hours later: the wait ends when
    only such deliveries are left, the next due over RETRY_PATIENCE_S away (`editions show ID`
    follows them), instead of blocking until then.
    The database may go away for a while (a restart, a failover): the workers wait for it, and
    so does this, saying once that it waits and once that it is back, for up to
    DATABASE_PATIENCE_S in one stretch.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from syndicate.storage.db import as_unavailable

    digests = c.digests
    columns = (TextColumn("edition {task.fields[edition]}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[detail]}"))
    down_since: list[float] = []
    with Progress(*columns, console=err(), transient=True) as progress:
        task = progress.add_task("sending", total=None, edition=edition_id, detail="")

        def show(counts: dict[DeliveryState, int]) -> None:
            if down_since:
                away = time.monotonic() - down_since.pop()
                err().print(f"the database is back after {away:.0f} s; still waiting for edition "
                          f"{edition_id}", markup=False, soft_wrap=True)
            done = sum(counts[s] for s in (DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.BOUNCED,
                                           DeliveryState.SKIPPED))
            progress.update(task, total=sum(counts.values()), completed=done,
                            detail=f"sent={counts[DeliveryState.SENT]} queued={counts[DeliveryState.QUEUED]}")
            if counts[DeliveryState.QUEUED] and not counts[DeliveryState.SENDING]:
                next_at = _held_back_until(c, edition_id)
                if next_at is not None and (next_at - c.now()).total_seconds() > RETRY_PATIENCE_S:
                    raise _HeldBack(counts, next_at)

        def pause(seconds: float) -> None:
            if c.settings.is_embedded:
                _send_inline(c, edition_id)
            time.sleep(seconds)

        while True:
            try:
                if c.settings.is_embedded:
                    _send_inline(c, edition_id)
                return digests.wait_until_final(edition_id, on_progress=show, sleep=pause), None
            except _HeldBack as held:
                return held.counts, held.next_at
            except Exception as exc:
                outage = as_unavailable(exc)
                if outage is None:
                    raise
                if not down_since:
                    down_since.append(time.monotonic())
                    err().print(f"waiting for the database (unreachable: {outage.detail}); edition "
                              f"{edition_id} goes on once it is back", markup=False, soft_wrap=True)
                elif time.monotonic() - down_since[0] > DATABASE_PATIENCE_S:
                    raise outage from None
                time.sleep(1.0)


@digest_app.command("send")
@edge
def digest_send(
    list_slug: Annotated[str, typer.Option("--list", help="The list.")],
    since: Annotated[str | None, typer.Option(help="Articles published after this ISO 8601 time.")] = None,
    wait: Annotated[bool, typer.Option(
        "--wait", help="Show progress until the first pass is over (held-back retries go on).")] = False,
) -> None:
    """Build an edition now and fan it out; with --wait ends with edition=ID sent=N failed=N ..."""
    c = _container()
    edition_id = c.digests.send_now(list_slug, since=_parse_time(since, "--since"))
    if edition_id is None:
        err().print(f"nothing to send: no new matching article or no active subscriber on {list_slug!r}",
                  markup=False)
        return
    if not wait or c.tasks.refused:
        counts = c.digests.edition_counts(edition_id)
        typer.echo(f"edition={edition_id} queued={counts[DeliveryState.QUEUED]}")
        check_broker(c, f"edition {edition_id} and its {counts[DeliveryState.QUEUED]} queued deliveries "
                        "wait in the database; the beat sweep hands them to workers once it is back")
        return
    counts, next_at = _wait(c, edition_id)
    if next_at is not None:
        held = counts[DeliveryState.QUEUED]
        err().print(f"edition {edition_id}: {plural(held, 'delivery', 'deliveries')} held back for a "
                  f"later retry (the recipient's server asked to try again; next attempt at "
                  f"{next_at.isoformat(timespec='seconds')}); `syndicate editions show {edition_id}` "
                  "follows them", markup=False, soft_wrap=True)
    typer.echo(summary(edition_id, counts))


def _edition_json(edition: "EditionView") -> dict[str, Any]:
    data = _jsonable(asdict(edition))
    for key in ("list_slug", "list_name", "counts"):
        data.pop(key)
    data["list"] = edition.list_slug
    data["deliveries"] = edition.counts
    return data


@editions_app.command("list")
@edge
def editions_list(as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False) -> None:
    """Editions, newest first, with delivery counts."""
    c = _container()
    for edition in c.digest_reads.editions():
        data = _edition_json(edition)
        if as_json:
            typer.echo(json.dumps(data, ensure_ascii=False))
        else:
            typer.echo(f"{edition.id}\t{edition.list_slug}\t{edition.frequency}\t{data['created_at']}\t"
                       f"{plural(len(edition.article_ids), 'article')}\t"
                       + " ".join(f"{k}={v}" for k, v in edition.counts.items()))


@editions_app.command("show")
@edge
def editions_show(
    edition_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON.")] = False,
) -> None:
    """One edition: list, subject, articles and delivery counts."""
    c = _container()
    data = _edition_json(c.digest_reads.edition(edition_id))
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    for key in ("id", "list", "frequency", "subject", "since", "until", "created_at", "article_ids"):
        typer.echo(f"{key}: {data[key]}")
    typer.echo("deliveries: " + " ".join(f"{k}={v}" for k, v in data["deliveries"].items()))


@resend_app.command("edition")
@edge
def resend_edition(
    edition_id: Annotated[int, typer.Argument(metavar="ID")],
    failed_only: Annotated[bool, typer.Option("--failed-only", help="Only failed deliveries.")] = False,
    to: Annotated[str | None, typer.Option("--to", help="Only this address's delivery.")] = None,
    all_rows: Annotated[bool, typer.Option("--all", help="Every delivery of the edition.")] = False,
) -> None:
    """Queue again exactly the deliveries named; prints edition=ID requeued=N."""
    if (failed_only, to is not None, all_rows).count(True) != 1:
        raise fail("give exactly one of --failed-only, --to EMAIL, --all")
    mode = "failed-only" if failed_only else "to" if to is not None else "all"
    c = _container()
    count = c.digests.resend(edition_id, mode=mode, email=to.strip().lower() if to else None)
    if count and c.settings.is_embedded:
        _send_inline(c, edition_id)
    typer.echo(f"edition={edition_id} requeued={count}")
    check_broker(c, f"the {count} requeued deliveries of edition {edition_id} wait in the database; "
                    "the beat sweep hands them to workers once it is back")


@deliveries_app.command("list")
@edge
def deliveries_list(
    status: Annotated[str | None, typer.Option(
        help="queued, sending, sent, failed, bounced or skipped.")] = None,
    edition: Annotated[int | None, typer.Option(help="Only this edition.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """Email deliveries: ID, edition, address, state, attempts, last SMTP reply."""
    state = parse_state(status) if status is not None else None
    c = _container()
    for row in c.digest_reads.deliveries(state=state, edition_id=edition):
        if as_json:
            typer.echo(json.dumps(_jsonable(asdict(row)), ensure_ascii=False))
        else:
            typer.echo(f"{row.id}\t{row.edition_id}\t{row.email}\t{row.state}\t{row.attempts}\t"
                       f"{row.last_reply or ''}")
