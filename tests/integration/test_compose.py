"""compose.yaml cannot run here (no Docker engine): check it by reading, and run its nginx site."""

from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import IN_CI, ROOT, free_port, port_open, wait_for

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_services_and_health_gated_dependencies() -> None:
    services: dict[str, Any] = COMPOSE["services"]
    assert {"postgres", "redis", "api", "worker", "beat", "mailpit", "nginx"} <= set(services)
    for name, service in services.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}, which has no healthcheck"
    redis_cmd = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_cmd and "--maxmemory-policy noeviction" in redis_cmd
    assert services["beat"]["command"] == ["syndicate", "beat"]


def test_required_secrets_are_never_defaulted() -> None:
    text = (ROOT / "compose.yaml").read_text()
    for var in ("SECRET_KEY", "ADMIN_TOKEN", "POSTGRES_PASSWORD"):
        uses = re.findall(r"\$\{" + var + r"([^}]*)\}", text)
        assert uses and all(u.startswith(":?") for u in uses), f"{var} must be ${{{var}:?…}}"


def test_app_environment_covers_the_contract_settings() -> None:
    env = COMPOSE["x-app"]["environment"]
    for var in ("DATABASE_URL", "REDIS_URL", "SMTP_URL", "BASE_URL", "SECRET_KEY", "ADMIN_TOKEN",
                "MAIL_FROM", "PUBLIC_DIR", "WEBSUB_HUBS", "PARTNER_ALLOW_PRIVATE"):
        assert var in env, var


def test_nginx_site_serves_feed_files_with_the_contract_types(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        if IN_CI:
            pytest.fail("nginx is not installed (Debian package nginx; `make sysdeps`)")
        pytest.skip("nginx is not installed")
    site = COMPOSE["configs"]["nginx-site"]["content"].replace("$$", "$")
    port = free_port()
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    site = site.replace("root /srv/www;", f"root {tmp_path / 'www'};")
    site = site.replace("http://api:8000", f"http://127.0.0.1:{free_port()}")
    files = {
        "feeds/rss.xml": "application/rss+xml; charset=utf-8",
        "feeds/atom.xml": "application/atom+xml; charset=utf-8",
        "feeds/feed.json": "application/feed+json; charset=utf-8",
        "feeds/category/world/atom.xml": "application/atom+xml; charset=utf-8",
        "feeds/lang/ru/rss.xml": "application/rss+xml; charset=utf-8",
    }
    for rel in files:
        path = tmp_path / "www" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("<feed/>")
    conf = tmp_path / "nginx.conf"
    # Workers read files from pytest's private tmp dir: run them as the test's own user.
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"{user}pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log; worker_processes 1;\n"
        f"events {{}}\nhttp {{ access_log off; client_body_temp_path {tmp_path}/body;\n"
        f"proxy_temp_path {tmp_path}/proxy; fastcgi_temp_path {tmp_path}/fcgi;\n"
        f"uwsgi_temp_path {tmp_path}/uwsgi; scgi_temp_path {tmp_path}/scgi;\n{site}\n}}\n"
    )
    proc = subprocess.Popen([nginx, "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.PIPE)
    try:
        wait_for(lambda: port_open("127.0.0.1", port) or proc.poll() is not None, 20, "nginx")
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        for rel, content_type in files.items():
            response = httpx.get(f"http://127.0.0.1:{port}/{rel}")
            assert response.status_code == 200, rel
            assert response.headers["content-type"] == content_type, rel
            assert response.headers["cache-control"] == "public, max-age=60"
            assert "etag" in response.headers
        lock = tmp_path / "www" / "feeds" / ".locks" / "site.lock"
        lock.parent.mkdir()
        lock.write_text("")
        assert httpx.get(f"http://127.0.0.1:{port}/feeds/.locks/site.lock").status_code == 403
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_image_is_built_from_the_multi_stage_dockerfile() -> None:
    build = COMPOSE["x-app"]["build"]
    dockerfile = (ROOT / build["dockerfile"]).read_text()
    stages = re.findall(r"(?m)^FROM\s+\S+\s+AS\s+(\S+)$", dockerfile)
    assert len(stages) >= 2 and build["target"] == stages[-1], "compose must run the last (runtime) stage"
    runtime = dockerfile.split(f"AS {stages[-1]}", 1)[1]
    # Only the built wheel reaches the runtime stage: no source tree, no editable install.
    assert "pip wheel" in dockerfile and "--find-links=/wheels syndicate" in runtime
    assert "COPY syndicate" not in runtime and " -e " not in dockerfile
    users = re.findall(r"(?m)^USER\s+(\S+)$", runtime)
    assert users and users[-1] not in ("root", "0"), "the service must not run as root"


def test_build_stage_copies_every_folder_the_wheel_is_made_from() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {"syndicate", *config["package-dir"].values()}
    for folder in folders:
        copied = re.search(rf"(?m)^COPY {folder} \./{folder}$", dockerfile)
        assert copied, f"Dockerfile never copies {folder}/"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert not folders & set(ignored)
