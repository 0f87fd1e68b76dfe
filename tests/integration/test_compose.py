"""compose.yaml cannot run here (no Docker engine): check it by reading, and run its nginx site
in front of the feeds app."""

from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
import tomllib
from datetime import UTC, datetime
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
                "MAIL_FROM", "FEED_STORE", "WEBSUB_HUBS", "PARTNER_ALLOW_PRIVATE"):
        assert var in env, var


def test_replicated_api_and_workers_share_no_feed_volume() -> None:
    services: dict[str, Any] = COMPOSE["services"]
    assert COMPOSE["x-app"]["environment"]["FEED_STORE"] == "database"
    assert "PUBLIC_DIR" not in COMPOSE["x-app"]["environment"]
    for name in ("api", "worker"):
        assert services[name]["deploy"]["replicas"] >= 2, name
        assert "ports" not in services[name], f"{name} replicas cannot share a published port"
    for name in ("api", "worker", "beat", "migrate", "nginx"):
        assert not services[name].get("volumes"), f"{name} mounts a volume; feeds live in PostgreSQL"
    assert set(COMPOSE["volumes"]) == {"pgdata", "redisdata"}


def _serve_in_thread(app: Any, port: int) -> Any:
    import threading

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    wait_for(lambda: port_open("127.0.0.1", port), 20, "the feeds app behind nginx")
    return server


def test_nginx_site_passes_feeds_from_the_api_through_unchanged(tmp_path: Path) -> None:
    from syndicate.feeds.folder import FeedFolder
    from syndicate.feeds.model import FeedPath
    from syndicate.web.feeds import FeedFiles

    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        if IN_CI:
            pytest.fail("nginx is not installed (Debian package nginx; `make sysdeps`)")
        pytest.skip("nginx is not installed")

    class NoBuilds:
        def build_on_request(self, requested: FeedPath) -> bool:
            return False

    feeds = tmp_path / "feeds"
    files = {
        "rss.xml": "application/rss+xml; charset=utf-8",
        "atom.xml": "application/atom+xml; charset=utf-8",
        "feed.json": "application/feed+json; charset=utf-8",
        "category/world/atom.xml": "application/atom+xml; charset=utf-8",
        "lang/ru/rss.xml": "application/rss+xml; charset=utf-8",
    }
    for rel in files:
        FeedFolder(feeds).write(rel, f"<feed>{rel}</feed>".encode() * 100, datetime(2026, 3, 1, tzinfo=UTC))
    api_port = free_port()
    api = _serve_in_thread(FeedFiles(NoBuilds(), feeds), api_port)
    site = COMPOSE["configs"]["nginx-site"]["content"].replace("$$", "$")
    port = free_port()
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    site = site.replace("server api:8000;", f"server 127.0.0.1:{api_port};")
    conf = tmp_path / "nginx.conf"
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
            for encoding in ("identity", "gzip"):
                direct = httpx.get(f"http://127.0.0.1:{api_port}/feeds/{rel}",
                                   headers={"accept-encoding": encoding})
                proxied = httpx.get(f"http://127.0.0.1:{port}/feeds/{rel}",
                                    headers={"accept-encoding": encoding})
                assert proxied.status_code == 200, rel
                assert proxied.headers["content-type"] == content_type, rel
                assert proxied.content == direct.content == f"<feed>{rel}</feed>".encode() * 100
                for header in ("etag", "last-modified", "cache-control", "vary", "content-encoding"):
                    assert proxied.headers.get(header) == direct.headers.get(header), (rel, header)
            etag = proxied.headers["etag"]
            again = httpx.get(f"http://127.0.0.1:{port}/feeds/{rel}",
                              headers={"accept-encoding": "gzip", "if-none-match": etag})
            assert again.status_code == 304 and again.content == b"", rel
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        api.should_exit = True


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
