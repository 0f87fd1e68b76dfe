"""`syndicate feeds build [--out DIR]`: write every feed (the store, or files in DIR) and print each path."""

# No `from __future__ import annotations` here: cli/main.py says why.

from pathlib import Path
from typing import Annotated

import typer

from syndicate.cli.common import command_container, edge, err, plural

feeds_app = typer.Typer(no_args_is_help=True, help="RSS, Atom and JSON feeds.")


@feeds_app.command("build")
@edge
def build(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write files into this folder, laid out like /feeds/ "
                     "(default: where FEED_STORE says)."),
    ] = None,
) -> None:
    """Write every feed (site, categories, languages, archive pages) where FEED_STORE says, or as
    files into --out; print each path written."""
    from rich.progress import Progress

    from syndicate.feeds.model import FeedSpec
    from syndicate.feeds.service import feeds_root

    container = command_container()
    service = container.feed_service(out)
    where: object = out
    if out is None:
        stored = container.feed_documents is not None
        where = "the database" if stored else feeds_root(container.settings)
        if stored and container.settings.public_dir is not None:
            where = f"the database and {feeds_root(container.settings)}"
    specs = service.all_specs()
    total = len(specs)
    with Progress(console=err(), transient=True, disable=total < 5) as progress:
        task = progress.add_task("building feeds", total=total)

        def advance(_spec: FeedSpec) -> None:
            progress.advance(task)

        result = service.build_all(progress=advance, specs=specs)
    for path in result.paths:
        typer.echo(str(path))
    err().print(
        f"built {plural(total, 'feed')}: {plural(len(result.paths), 'file')}, {len(result.changed)} "
        f"changed, in {where}",
        markup=False,
    )
