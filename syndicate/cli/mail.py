"""`syndicate mail`: bounce and complaint reports from the bounce mailbox."""

# No `from __future__ import annotations` here: cli/main.py says why.

import sys
from pathlib import Path
from typing import Annotated

import typer

from syndicate.cli.common import command_container, edge, err, fail

mail_app = typer.Typer(no_args_is_help=True, help="Mail coming back: bounces and complaints.")


@mail_app.command("report")
@edge
def report(
    paths: Annotated[list[Path], typer.Argument(
        metavar="FILE...", help="Messages as files (.eml), '-' for one on standard input.")],
) -> None:
    """Apply bounce (RFC 3464) and complaint (RFC 5965) reports; one line per report.

    Meant for the mailbox MAIL_FROM's bounces reach: pipe each message in (`| syndicate mail
    report -`), or pass saved messages. Messages that are not such reports, or that name no
    message of ours, are listed as ignored and change nothing. Ends with a summary line.
    """
    messages: list[tuple[str, bytes]] = []
    for path in paths:
        try:
            data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
        except OSError as exc:
            raise fail(f"{path}: cannot read: {exc.strerror or exc}") from None
        messages.append((str(path), data))
    from rich.progress import Progress

    from syndicate.digests.bounces import ReportOutcome

    reports = command_container().bounce_reports
    tally = dict.fromkeys(ReportOutcome, 0)
    with Progress(console=err(), transient=True, disable=len(messages) < 5) as progress:
        task = progress.add_task("reports", total=len(messages))
        for name, data in messages:
            for applied in reports.apply_message(data):
                tally[applied.outcome] += 1
                typer.echo(f"{name}: {applied.line()}")
            progress.advance(task)
    typer.echo("reports: " + " ".join(f"{k}={v}" for k, v in tally.items()))
