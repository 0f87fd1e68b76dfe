"""Shared pieces of the CLI: the error edge, the stderr console, a command's container."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from syndicate.errors import BrokerUnavailable, SyndicateError, exit_code

if TYPE_CHECKING:
    from rich.console import Console

    from syndicate.bootstrap import Container

F = TypeVar("F", bound=Callable[..., Any])
EXIT_BAD_INPUT = 2


@functools.cache
def err() -> Console:
    """The console for messages and progress bars on stderr (one per process; rich is imported on
    first use, so a command that writes nothing there does not import it)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def plural(count: int, singular: str, many: str | None = None) -> str:
    """`count` and the noun in the right number: "1 article", "2 articles", "0 articles"."""
    return f"{count} {singular if count == 1 else (many or singular + 's')}"


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print one error line on stderr; the caller raises the returned Exit (2 unless told)."""
    err().print(f"error: {message}", markup=False, soft_wrap=True)
    return typer.Exit(code)


def edge(func: F) -> F:
    """Translate named errors into a one-line message and the exit code errors.ERROR_CODES gives."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SyndicateError as exc:
            raise fail(str(exc), exit_code(exc)) from None
        except Exception as exc:
            from syndicate.storage.db import as_unavailable

            outage = as_unavailable(exc)
            if outage is None:
                raise
            raise fail(str(outage), exit_code(outage)) from None

    return wrapper  # type: ignore[return-value]


def embedded() -> bool:
    """True when the environment configures neither PostgreSQL nor Redis."""
    from syndicate.settings import load_settings

    return load_settings().is_embedded


def command_container(*, check_schema: bool = False) -> Container:
    """The container of a short command, each feature built on first use: in embedded mode the
    pending migrations are applied first; else, with `check_schema`, pending ones are an error."""
    from syndicate.bootstrap import bootstrap
    from syndicate.settings import load_settings

    settings = load_settings()
    return bootstrap(settings, migrate=settings.is_embedded, check_schema=check_schema, eager=False)


#: Loggers that warn, per command or per edition, that the broker refused work.
_BROKER_WARNINGS = ("syndicate.broker.taskqueue", "syndicate.digests.service")


def report_broker_myself() -> None:
    """This command says itself when the broker refused its work (`check_broker`): silence the
    per-command warnings about it so the user reads one line."""
    for name in _BROKER_WARNINGS:
        logging.getLogger(name).setLevel(logging.ERROR)


def check_broker(c: Container, waiting: str) -> None:
    """Raise BrokerUnavailable (exit 1) naming the broker, why, and `waiting` (what the database
    keeps for later) when the broker refused a command of this process; else nothing."""
    from syndicate.broker.taskqueue import broker_name

    if c.tasks.refused:
        raise BrokerUnavailable(f"the broker ({broker_name(c.settings)}) is unreachable "
                                f"({c.tasks.last_refusal}); {waiting}")
