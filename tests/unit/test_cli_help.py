"""`--help` of every command reads like the rest of the ecosystem: no type label on flags, no
braces around arguments, paragraphs wrapped by the terminal rather than at the source's lines."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from syndicate.cli.main import app


def _commands() -> list[list[str]]:
    """Every command path of the app: ['serve'], ['subscribers', 'import'], …"""
    root = typer.main.get_command(app)
    found: list[list[str]] = []

    def walk(cmd: Any, path: list[str]) -> None:  # Typer's own (vendored) click command classes
        if getattr(cmd, "commands", None):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
        else:
            found.append(path)

    walk(root, [])
    return found


COMMANDS = _commands()


def _help(args: list[str]) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_help_has_no_bool_labels_nor_braced_arguments(args: list[str]) -> None:
    text = _help(args)
    assert "<bool>" not in text
    assert "{" not in text.split("Usage:")[1].splitlines()[0]  # the usage line


def test_every_list_command_has_json() -> None:
    lists = [a for a in COMMANDS if a[-1] == "list"]
    assert len(lists) >= 6
    for args in lists:
        assert "--json" in _help(args), args


def test_arguments_read_as_metavars_and_paragraphs_are_not_cut_mid_sentence() -> None:
    usage = _help(["articles", "import"])
    assert "articles import [OPTIONS] PATH..." in usage
    text = _help(["subscribers", "import"])
    assert "[OPTIONS] CSV" in text
    # The docstring breaks this sentence after "confirmation"; the help keeps it whole.
    assert "each is mailed a confirmation link (double opt-in)" in text
    flags = _help(["serve"])
    assert "--no-worker " in flags and "--port" in flags and "<int>" in flags  # values keep their type
