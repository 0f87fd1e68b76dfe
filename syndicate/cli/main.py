"""The `syndicate` command line. Bad input: one line on stderr naming file and field, exit 2."""

# Each command imports what it needs inside its function: `syndicate --help` and the reading
# commands never import Celery, premailer, FastAPI or Alembic (tests/e2e/test_cli_startup.py).
# The modules that define commands do without `from __future__ import annotations`: Typer reads
# the annotations of every command at each start, and as strings each would be compiled and
# evaluated there (twice), instead of built once with its function.
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from syndicate.cli import digests as digest_cli
from syndicate.cli.common import EXIT_BAD_INPUT, command_container, edge, err, plural
from syndicate.cli.common import embedded as _embedded
from syndicate.cli.feeds import feeds_app
from syndicate.cli.helpfmt import conventional_help
from syndicate.cli.mail import mail_app
from syndicate.cli.partners import partners_app
from syndicate.logs import configure_logging

if TYPE_CHECKING:
    from syndicate.bootstrap import Container

conventional_help()
app = typer.Typer(
    no_args_is_help=True, add_completion=False, help=__doc__, pretty_exceptions_enable=False
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
articles_app = typer.Typer(no_args_is_help=True, help="Articles.")
app.add_typer(db_app, name="db")
app.add_typer(articles_app, name="articles")
app.add_typer(feeds_app, name="feeds")
app.add_typer(partners_app, name="partners")
app.add_typer(digest_cli.lists_app, name="lists")
app.add_typer(digest_cli.subscribers_app, name="subscribers")
app.add_typer(digest_cli.digest_app, name="digest")
app.add_typer(digest_cli.editions_app, name="editions")
app.add_typer(digest_cli.resend_app, name="resend")
app.add_typer(digest_cli.deliveries_app, name="deliveries")
app.add_typer(mail_app, name="mail")

@db_app.command("upgrade")
@edge
def db_upgrade() -> None:
    """Apply pending migrations."""
    from syndicate.bootstrap import bootstrap
    from syndicate.storage import db

    container = bootstrap(eager=False)
    applied = db.upgrade(container.engine)
    typer.echo(f"database at head ({', '.join(applied) or 'nothing to apply'})")


def _print_token(container: "Container") -> None:
    token = container.settings.resolved_admin_token
    err().print(f"Admin token: {token}", markup=False)


@app.command()
@edge
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Do not start a worker.")] = False,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request (off: a proxy in front logs them).")
    ] = False,
) -> None:
    """Serve the site, feeds, admin and API; starts a worker with the scheduler unless told not to."""
    import uvicorn

    from syndicate.bootstrap import bootstrap
    from syndicate.cli.supervise import Supervised
    from syndicate.settings import load_settings
    from syndicate.web.app import create_app

    settings = load_settings()
    configure_logging(settings.log_format)
    if "base_url" not in settings.model_fields_set:
        # Without BASE_URL, links in pages, feeds and mail point at this server's own port; the
        # embedded worker (a child process) inherits the variable and writes the same links.
        os.environ["BASE_URL"] = _local_url(host, port)
    container = bootstrap(migrate=_embedded(), check_schema=True)
    _print_token(container)
    child: Supervised | None = None
    if not no_worker:
        child = Supervised([sys.executable, "-m", "syndicate.cli.main", "worker", "--with-beat",
                            "--exit-with-parent"])
        child.start()
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again with the handler it
    # found: make that handler end `serve` through `finally`, so the worker is stopped too. A
    # closed terminal (SIGHUP) takes the same path.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, lambda *_: os.kill(os.getpid(), signal.SIGTERM))
    proxies = container.settings.forwarded_allow_ips
    try:
        uvicorn.run(
            create_app(container), host=host, port=port, log_level="info", access_log=access_log,
            server_header=False,
            # X-Forwarded-For only from FORWARDED_ALLOW_IPS; uvicorn's own default would trust
            # 127.0.0.1 (or its FORWARDED_ALLOW_IPS variable), letting a local client pick its address.
            proxy_headers=bool(proxies), forwarded_allow_ips=",".join(proxies) or "",
            # In-flight requests get this long after SIGTERM; background jobs stop at their next chunk.
            timeout_graceful_shutdown=10,
        )
    finally:
        if child is not None:
            child.stop()


def _local_url(host: str, port: int) -> str:
    """The URL a browser on this machine uses for a server bound to `host`:`port`."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


@app.command()
@edge
def worker(
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 0,
    with_beat: Annotated[
        bool, typer.Option("--with-beat", help="Run the scheduler inside this worker.")
    ] = False,
    exit_with_parent: Annotated[
        bool, typer.Option("--exit-with-parent", hidden=True, help="Stop when the parent process is gone.")
    ] = False,
) -> None:
    """Run a Celery worker on the configured broker."""
    from syndicate.bootstrap import bootstrap, prepare_worker_process
    from syndicate.cli.supervise import follow_parent
    from syndicate.settings import load_settings

    configure_logging(load_settings().log_format)
    if exit_with_parent:
        follow_parent()
    container = bootstrap(migrate=_embedded(), check_schema=True)
    settings = container.settings
    argv = ["worker", "--loglevel=INFO", "-Q", settings.celery_queue, "--without-gossip",
            "--without-mingle"]
    if settings.is_sqlite:
        # One SQLite file: a single worker process avoids lock contention; one task taken at a
        # time, so a killed worker loses no batch it had taken but not started.
        argv += ["--pool=solo", "--concurrency=1"]
    elif concurrency:
        argv += [f"--concurrency={concurrency}"]
    if with_beat:
        # Production mode writes nothing else under VAR_DIR: the schedule's folder may not exist.
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        argv += ["--beat", f"--schedule={settings.var_dir / 'celerybeat-schedule'}"]
    if not settings.redis_url:
        # Messages this folder's last worker had taken died with it: a new epoch makes the
        # sweep enqueue their rows again (see broker/taskqueue.py FILES_EPOCH_FILE).
        from syndicate.broker.taskqueue import files_broker_dir, new_files_epoch

        new_files_epoch(files_broker_dir(settings))
    prepare_worker_process(container)
    container.celery.worker_main(argv)


@app.command()
@edge
def beat() -> None:
    """Run the scheduler: outbox relay, digests, retries, sweeps."""
    from syndicate.bootstrap import bootstrap
    from syndicate.settings import load_settings

    configure_logging(load_settings().log_format)
    container = bootstrap()
    schedule = container.settings.var_dir / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    container.celery.start(["beat", "--loglevel=INFO", f"--schedule={schedule}"])


@articles_app.command("import")
@edge
def articles_import(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH", help=".json, .md or .txt files.")],
    published_at: Annotated[
        str | None, typer.Option("--published-at", help="RFC 3339 time for every file.")
    ] = None,
    language: Annotated[str | None, typer.Option(help="BCP 47 language for every file.")] = None,
    category: Annotated[
        list[str] | None, typer.Option("--category", help="Category slug (repeatable).")
    ] = None,
    release_at: Annotated[
        str | None, typer.Option("--release-at", help="ISO 8601 release time (embargo): the "
                                 "articles stay scheduled, in the admin only, until then.")
    ] = None,
) -> None:
    """Import article files, one transaction each; prints ID, slug and URL per article."""
    from rich.progress import Progress

    from syndicate.errors import InvalidArticle
    from syndicate.services.publishing import Outcome

    container = command_container(check_schema=True)
    if release_at and published_at and release_at != published_at:
        raise typer.BadParameter(f"--release-at {release_at!r} and --published-at {published_at!r} "
                                 "disagree; give one (the release time is the publication time)")
    overrides = {"published_at": release_at or published_at, "language": language,
                 "categories": category}
    counts = dict.fromkeys(Outcome, 0)
    failures: list[str] = []
    with Progress(console=err(), transient=True, disable=len(paths) < 5) as progress:
        task = progress.add_task("importing", total=len(paths))
        for path in paths:
            try:
                imported = container.articles.import_file(path, overrides=overrides)
            except InvalidArticle as exc:
                failures.append(str(exc))
                err().print(f"error: {exc}", markup=False, soft_wrap=True)
            else:
                article = imported.result.article
                counts[imported.result.outcome] += 1
                if imported.cleaned:
                    err().print(f"{path}: cleaned: {imported.cleaned}", markup=False, soft_wrap=True)
                typer.echo(f"{article.id}\t{article.slug}\t{article.link(container.settings.base_url)}")
            progress.advance(task)
    err().print(
        f"imported {sum(counts.values())} of {plural(len(paths), 'file')}: "
        f"{counts[Outcome.CREATED]} new, {counts[Outcome.UPDATED]} updated, "
        f"{counts[Outcome.UNCHANGED]} unchanged, {len(failures)} failed",
        markup=False,
    )
    if failures:
        raise typer.Exit(EXIT_BAD_INPUT)


@articles_app.command("list")
@edge
def articles_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """List stored articles, newest first."""
    from syndicate.settings import load_settings
    from syndicate.storage.article_list import DriverArticleList

    # Without a container: the list reads through the database's driver, and the container's
    # engine would import SQLAlchemy, a third of this command's start-up time.
    settings = load_settings()
    settings.require_secrets()
    listing = DriverArticleList(settings.effective_database_url)
    if not listing.schema_current():
        command_container(check_schema=True)  # embedded: applies the migrations; else says so
    base_url = settings.base_url
    for a in listing.newest(categories=as_json):
        if as_json:
            typer.echo(json.dumps({
                "id": a.id, "guid": a.guid, "slug": a.slug, "title": a.title,
                "published_at": a.published_at.isoformat(), "updated_at": a.updated_at.isoformat(),
                "language": a.language, "categories": list(a.categories), "url": a.link(base_url),
            }, ensure_ascii=False))
        else:
            typer.echo(f"{a.id}\t{a.slug}\t{a.published_at.isoformat()}\t{a.title}")


def main() -> None:
    """Console-script entry point."""
    from syndicate.cli.vardir import choose

    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    commands = [a for a in sys.argv[1:] if not a.startswith("-")]
    if "--help" not in sys.argv[1:]:
        choose(commands[0] if commands else None)
    app()


if __name__ == "__main__":
    main()
