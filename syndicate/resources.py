"""Files that ship inside the package, found through importlib.resources (wheel or source tree)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def static_dir() -> Path:
    """The folder of files served as they are under /static (the one stylesheet)."""
    path = Path(str(files("syndicate"))) / "static"
    if not path.is_dir():
        raise FileNotFoundError(f"static folder {path} is missing from this installation")
    return path


def templates_dir() -> Path:
    """The folder of Jinja2 templates (the project's `templates/`, installed as `syndicate.templates`).

    Raises FileNotFoundError when the package is installed zipped, which syndicate never is.
    """
    path = Path(str(files("syndicate.templates")))
    if not path.is_dir():
        raise FileNotFoundError(f"templates folder {path} is missing from this installation")
    return path
