"""The project as a user installs it: a built wheel in a fresh venv, run from an empty directory.

Templates, migrations and the worker's tasks must come from the installed package (package data
found through importlib.resources), never from this source tree, and no top-level `worker`
package may land in site-packages.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT, wait_for

pytestmark = pytest.mark.timeout(600)


def test_every_source_folder_is_a_listed_package() -> None:
    # An unlisted folder would silently be left out of the wheel.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapped = {Path(folder): name for name, folder in config["package-dir"].items()}
    mapped[Path("syndicate")] = "syndicate"
    found = set()
    for top, name in mapped.items():
        for folder in [ROOT / top, *(p for p in (ROOT / top).rglob("*") if p.is_dir())]:
            shipped = any(f.suffix in (".py", ".html") for f in folder.iterdir())
            if folder.name == "__pycache__" or not shipped:
                continue
            found.add(".".join([name, *folder.relative_to(ROOT / top).parts]))
    assert found - listed == set()


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_built_wheel_works_in_a_fresh_venv(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    dist, venv, work = tmp_path / "dist", tmp_path / "venv", tmp_path / "empty"
    work.mkdir()
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
         cwd=tmp_path, env=env)
    wheel = next(dist.glob("syndicate-*.whl"))
    base_python = getattr(sys, "_base_executable", sys.executable)
    _run([base_python, "-m", "venv", str(venv)], cwd=tmp_path, env=env)
    _run([str(venv / "bin/pip"), "install", "--quiet", str(wheel)], cwd=tmp_path, env=env, timeout=540)
    bin_ = venv / "bin"
    env = env | {"PATH": f"{bin_}:{env['PATH']}", "PYTHONUNBUFFERED": "1"}
    for name in ("DATABASE_URL", "REDIS_URL", "SMTP_URL", "VAR_DIR", "PUBLIC_DIR", "BASE_URL"):
        env.pop(name, None)

    no_worker = subprocess.run([str(bin_ / "python"), "-c", "import worker"], cwd=work, env=env,
                               capture_output=True, text=True)
    assert no_worker.returncode != 0 and "No module named 'worker'" in no_worker.stderr

    catalogs = _run([str(bin_ / "python"), "-c", "from syndicate import i18n; print(*i18n.available())"],
                    cwd=work, env=env)
    assert catalogs.split() == ["en", "ru"]  # the compiled gettext catalogs are in the wheel

    sample = work / "csto-anniversary.txt"
    sample.write_bytes((ROOT / "examples" / "csto-anniversary.txt").read_bytes())
    _run(["syndicate", "db", "upgrade"], cwd=work, env=env)
    imported = _run(["syndicate", "articles", "import", sample.name], cwd=work, env=env)
    assert "\tcsto-anniversary\t" in imported
    built = _run(["syndicate", "feeds", "build", "--out", "out"], cwd=work, env=env)
    assert "out/atom.xml" in built and (work / "out" / "rss.xml").read_bytes().startswith(b"<?xml")

    _run(["syndicate", "lists", "create", "news", "--name", "News", "--frequency", "daily"],
         cwd=work, env=env)
    (work / "subs.csv").write_text("email,name\nreader@example.test,Reader\n")
    _run(["syndicate", "subscribers", "import", "subs.csv", "--list", "news", "--confirmed"],
         cwd=work, env=env)
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(["syndicate", "worker"], cwd=work, env=env, stdout=log,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        sent = _run(["syndicate", "digest", "send", "--list", "news", "--since", "2000-01-01T00:00:00Z",
                     "--wait"], cwd=work, env=env, timeout=120)
        assert sent.strip().splitlines()[-1].startswith("edition=1 sent=1 failed=0")
        outbox = work / "var" / "outbox"
        wait_for(lambda: list(outbox.glob("*.eml")), 30, "the digest in var/outbox")
        mail = next(outbox.glob("*.eml")).read_bytes()
        assert b"Subject:" in mail and b"reader@example.test" in mail and b"text/html" in mail
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
