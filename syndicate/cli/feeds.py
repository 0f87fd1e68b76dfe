"""`syndicate feeds build [--out DIR]`: write every feed and print each path."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from syndicate.bootstrap import bootstrap
from syndicate.cli.common import edge, embedded, err
from syndicate.feeds.model import FeedSpec
from syndicate.feeds.service import feeds_root

feeds_app = typer.Typer(no_args_is_help=True, help="RSS, Atom and JSON feeds.")


@feeds_app.command("build")
@edge
def build(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder laid out like /feeds/ (default: PUBLIC_DIR/feeds)."),
    ] = None,
) -> None:
    """Write every feed (site, categories, languages, archive pages); print each path written."""
    container = bootstrap(migrate=embedded())
    root = out if out is not None else feeds_root(container.settings)
    service = container.feed_service(root)
    specs = service.all_specs()
    total = len(specs)
    with Progress(console=err, transient=True, disable=total < 5) as progress:
        task = progress.add_task("building feeds", total=total)

        def advance(_spec: FeedSpec) -> None:
            progress.advance(task)

        result = service.build_all(progress=advance, specs=specs)
    for path in result.paths:
        typer.echo(str(path))
    err.print(
        f"built {total} feed(s): {len(result.paths)} file(s), {len(result.changed)} changed, in {root}",
        markup=False,
    )
