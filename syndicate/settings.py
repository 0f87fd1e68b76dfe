"""The one Settings object: every environment variable syndicate reads is declared here."""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from syndicate.errors import ConfigError


class Settings(BaseSettings):
    """Configuration read from the environment; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str = ""
    redis_url: str | None = None
    smtp_url: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str | None = None
    admin_token: str | None = None
    mail_from: str = "Newsroom <news@localhost>"
    public_dir: Path | None = None
    websub_hubs: Annotated[list[str], NoDecode] = Field(default_factory=list)
    partner_allow_private: bool = False
    log_format: Literal["text", "json"] = "text"
    # Proxies whose X-Forwarded-For is trusted: IPs or CIDR networks, comma-separated; '*' = any.
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Not in the public contract; tunables with sensible defaults.
    var_dir: Path = Path("var")
    max_body_bytes: int = 2 * 1024 * 1024
    media_url: str = ""
    celery_queue: str = "syndicate"
    outbox_sweep_seconds: float = 2.0
    news_page_size: int = 20
    feed_items: int = 50
    feed_archive_size: int = 50
    site_title: str = "Newsroom"
    site_subtitle: str = ""
    site_language: str = "en"
    site_logo_url: str = ""  # an image heading every email (SITE_TITLE is its alt text)
    feeds_access_log: bool = False
    # Where built feeds live: "database" (any serve node answers them) or "files" (PUBLIC_DIR/feeds).
    feed_store: Literal["database", "files"] | None = None
    # Partner pushes (issue 5).
    partner_timeout_s: float = 15.0
    partner_disable_after_days: float = 5.0
    partner_secret_overlap_hours: float = 24.0
    partner_sweep_seconds: float = 5.0
    partner_concurrency: int = Field(default=50, ge=1, le=1000)  # pushes in flight per worker process
    partner_lease_seconds: float = Field(default=30.0, gt=0)  # a push whose pusher stopped renewing
    # Digests and mail (issue 4).
    mail_send_rate: float = 0.0  # messages/s over all workers (Redis-shared); 0 = unlimited
    mail_batch_size: int = 500
    smtp_connections: int = Field(default=10, ge=1, le=100)  # per worker process, all kept busy
    mail_retry_seconds: float = 60.0  # first 4xx backoff; multiplied by 5 per further attempt
    mail_max_attempts: int = 5
    mail_lease_seconds: float = 30.0  # a sending row whose sender stopped renewing is taken over
    mail_sweep_seconds: float = 10.0
    mail_enqueue_timeout_seconds: float = 3600.0  # a batch still in a healthy broker's queue
    mail_max_html_bytes: int = 100_000
    dkim_selector: str | None = None
    dkim_private_key_path: Path | None = None
    digest_hour: int = 7
    digest_weekday: int = 0  # Monday
    digest_timezone: str = "UTC"
    subscribe_limit_per_hour: int = 5  # per address
    subscribe_client_limit_per_hour: int = 30  # per client address
    confirm_token_hours: float = 72.0
    # Limits and abuse protection (issue 13).
    import_max_bytes: int = 64 * 1024 * 1024  # one subscriber CSV upload through the API
    import_chunk_rows: int = 1000  # a CSV import commits every this many rows

    @field_validator("websub_hubs", mode="before")
    @classmethod
    def _split_hubs(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            if item == "*":
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"FORWARDED_ALLOW_IPS: {item!r} is not an IP address, a network or '*'"
                ) from None
        return value

    @field_validator("base_url", "media_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("max_body_bytes", "import_max_bytes", "import_chunk_rows")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError(f"must be positive, got {value}")
        return value

    @property
    def effective_database_url(self) -> str:
        """DATABASE_URL, or the embedded SQLite file under VAR_DIR."""
        return self.database_url or f"sqlite:///{self.var_dir / 'syndicate.db'}"

    @property
    def is_embedded(self) -> bool:
        """True when neither PostgreSQL nor Redis is configured: secrets may be generated."""
        return self.redis_url is None and not self.effective_database_url.startswith("postgresql")

    @property
    def is_sqlite(self) -> bool:
        """True when the database is a SQLite file."""
        return self.effective_database_url.startswith("sqlite")

    @property
    def public_path(self) -> Path:
        """PUBLIC_DIR, by default var/public: static feed files any web server can serve."""
        return self.public_dir or self.var_dir / "public"

    @property
    def effective_feed_store(self) -> Literal["database", "files"]:
        """FEED_STORE, by default `database` on PostgreSQL and `files` on SQLite."""
        if self.feed_store is not None:
            return self.feed_store
        return "files" if self.is_sqlite else "database"

    @property
    def public_media_url(self) -> str:
        """Where file names recorded as images (from .txt imports) are served from."""
        return self.media_url or f"{self.base_url}/media"

    @cached_property
    def mail_domain(self) -> str:
        """The domain of Message-IDs: BASE_URL's host (read per message: parsed once)."""
        return urlsplit(self.base_url).hostname or "localhost"

    @cached_property
    def resolved_secret_key(self) -> str:
        """SECRET_KEY, or (embedded only) the one generated once into var/secret_key."""
        return self._secret("secret_key", "SECRET_KEY")

    @cached_property
    def resolved_admin_token(self) -> str:
        """ADMIN_TOKEN, or (embedded only) the one generated once into var/admin_token."""
        return self._secret("admin_token", "ADMIN_TOKEN")

    def require_secrets(self) -> None:
        """Raise ConfigError naming the first missing secret (production) or create them."""
        _ = self.resolved_secret_key, self.resolved_admin_token

    def _secret(self, attr: str, env_name: str) -> str:
        value = getattr(self, attr)
        if value:
            if len(value) < 16:
                raise ConfigError(f"{env_name} is too short ({len(value)} characters); use 16 or more")
            return str(value)
        if not self.is_embedded:
            raise ConfigError(
                f"{env_name} is not set; it is required when DATABASE_URL is PostgreSQL "
                "or REDIS_URL is set"
            )
        path = self.var_dir / attr
        if path.exists():
            return path.read_text().strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        generated = secrets.token_urlsafe(32)
        # O_EXCL: two processes starting together agree on one value.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(generated + "\n")
        return generated


def load_settings(**overrides: object) -> Settings:
    """Read Settings from the environment; keyword overrides win (tests use them)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
