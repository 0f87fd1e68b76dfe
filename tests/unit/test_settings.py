"""Settings: embedded secrets are generated once; production refuses to start without them."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicate.errors import ConfigError
from syndicate.settings import load_settings


def test_embedded_generates_secrets_once(tmp_path: Path) -> None:
    first = load_settings(var_dir=tmp_path)
    token = first.resolved_admin_token
    key = first.resolved_secret_key
    assert len(token) >= 32 and token != key
    assert (tmp_path / "admin_token").stat().st_mode & 0o777 == 0o600
    again = load_settings(var_dir=tmp_path)
    assert again.resolved_admin_token == token
    assert again.resolved_secret_key == key


@pytest.mark.parametrize(
    "overrides",
    [
        {"database_url": "postgresql+psycopg://db/x"},
        {"redis_url": "redis://127.0.0.1:6379/0"},
    ],
)
def test_production_requires_secrets(tmp_path: Path, overrides: dict[str, str]) -> None:
    settings = load_settings(var_dir=tmp_path, **overrides)
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        settings.require_secrets()
    settings = load_settings(var_dir=tmp_path, secret_key="k" * 20, **overrides)
    with pytest.raises(ConfigError, match="ADMIN_TOKEN is not set"):
        settings.require_secrets()
    assert not (tmp_path / "admin_token").exists()


def test_short_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ADMIN_TOKEN is too short \(3 characters\)"):
        _ = load_settings(var_dir=tmp_path, admin_token="abc").resolved_admin_token


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WEBSUB_HUBS", "https://hub.one/, https://hub.two/")
    monkeypatch.setenv("BASE_URL", "https://news.example.org/")
    monkeypatch.setenv("PARTNER_ALLOW_PRIVATE", "true")
    s = load_settings(var_dir=tmp_path)
    assert s.websub_hubs == ["https://hub.one/", "https://hub.two/"]
    assert s.base_url == "https://news.example.org"
    assert s.partner_allow_private is True
    assert s.mail_domain == "news.example.org"
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'syndicate.db'}"
    assert s.public_path == tmp_path / "public"


def test_invalid_value_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTNER_ALLOW_PRIVATE", "perhaps")
    with pytest.raises(ConfigError, match="partner_allow_private"):
        load_settings()


def test_bootstrap_settings_win_over_the_environment(tmp_path: Path) -> None:
    from syndicate.bootstrap import bootstrap

    container = bootstrap(load_settings(
        var_dir=tmp_path, redis_url="redis://127.0.0.1:6399/7", secret_key="k" * 20,
        admin_token="t" * 20, celery_queue="only-this-test",
    ))
    # Using the app finalizes Celery's configuration; the container's settings must survive it.
    with container.celery.connection_for_write() as conn:
        assert (conn.transport_cls, conn.hostname, conn.port, conn.virtual_host) == (
            "redis", "127.0.0.1", 6399, "7")
    assert container.celery.conf.task_default_queue == "only-this-test"
