"""`--help` that reads like the rest of the ecosystem (click, argparse, git), on top of Typer.

Typer 0.2x prints a type label on every flag (`--wait <bool>`), puts required arguments in
braces in the usage line (`{paths}...`) and keeps the single line breaks of a docstring's later
paragraphs, so they wrap mid-sentence at the source's line length. `conventional_help()` adjusts
those three renderings, and nothing else: flags show no type, arguments read `PATH...` /
`[PATH]`, and a paragraph is wrapped by the terminal only. tests/unit/test_cli_help.py pins the
output, so a Typer release that renames these hooks fails there, not in front of a user.

Typer imports `typer.rich_utils` (rich's Markdown, tables, tracebacks: tens of milliseconds) only
to render help or an error; the paragraph fix is applied there, when help is rendered, so a
command that prints no help does not import it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from typer import core

_applied: list[bool] = []


def _argument_name(self: core.TyperArgument) -> str:
    return self.metavar if self.metavar is not None else (self.name or "").upper()


def _argument_usage(self: core.TyperArgument) -> str:
    name = _argument_name(self) if self.required else f"[{_argument_name(self)}]"
    return name + ("..." if self.nargs != 1 else "")


def _join_lines(paragraphs: list[str], markup_mode: Any) -> str:
    # A paragraph starting with \b keeps its lines (click's convention for preformatted text).
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split("\n")) for p in paragraphs)


_FormatHelp = TypeVar("_FormatHelp", bound=Callable[..., None])


def _joining_lines(format_help: _FormatHelp) -> _FormatHelp:
    """`format_help` that first puts `_join_lines` into rich_utils (imported there by Typer)."""

    def format_help_joining_lines(self: Any, ctx: Any, formatter: Any) -> None:
        from typer import rich_utils

        rich_utils._fix_linebreaks = _join_lines
        format_help(self, ctx, formatter)

    return format_help_joining_lines  # type: ignore[return-value]


def conventional_help() -> None:
    """Patch Typer's help rendering as the module docstring says; idempotent."""
    if _applied:
        return
    option_type = core.TyperOption.display_type_rich

    def option_type_unless_flag(self: core.TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else option_type(self, ctx)

    core.TyperOption.display_type_rich = option_type_unless_flag  # type: ignore[method-assign]
    core.TyperArgument.display_name_raw = property(_argument_name)  # type: ignore[assignment,method-assign]
    core.TyperArgument._usage_display_name = _argument_usage  # type: ignore[method-assign]
    core.TyperCommand.format_help = _joining_lines(core.TyperCommand.format_help)  # type: ignore[method-assign]
    core.TyperGroup.format_help = _joining_lines(core.TyperGroup.format_help)  # type: ignore[method-assign]
    _applied.append(True)
