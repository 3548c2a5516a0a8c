"""Settings: the TOML config file validated with pydantic, and environment variables."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CONFIG_PATH = Path("config/ikdoemee.toml")
DEFAULT_DATABASE_URL = "sqlite:///data/ikdoemee.sqlite3"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and what is wrong."""


class _Strict(BaseModel):
    # A misspelt key must stop the program, not be ignored silently.
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    connector: Literal["uitdatabank"]
    base_url: str = Field(pattern=r"^https?://")
    client_id_env: str | None = None
    limit: int = Field(default=200, ge=1, le=2000)
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    max_attempts: int = Field(default=6, ge=1, le=20)
    backoff_initial_seconds: float = Field(default=0.5, ge=0, le=60)
    backoff_max_seconds: float = Field(default=30.0, ge=0, le=3600)
    retry_after_max_seconds: float = Field(default=300.0, ge=0, le=3600)
    interval_minutes: int = Field(default=15, ge=1, le=24 * 60)
    reconcile_cron: str = "0 3 * * *"
    # The reconciliation on this day (Europe/Brussels) re-reads every document instead of
    # comparing id lists: the only way to see a place or organizer change that kept the
    # event's `modified`. "daily": every night (the old behaviour); "never": only `sync --full`.
    full_reconcile_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun", "daily",
                                "never"] = "sun"
    enabled: bool = True

    def client_id(self) -> str | None:
        """The client id from the environment variable the config names."""
        if self.client_id_env is None:
            return None
        value = os.environ.get(self.client_id_env)
        if not value:
            raise ConfigError(
                f"sources[{self.name}].client_id_env: environment variable "
                f"{self.client_id_env} is not set"
            )
        return value


class WebConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    base_url: str = Field(default="http://127.0.0.1:8080", pattern=r"^https?://[^/]+")


class SmtpConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = "ikdoemee <noreply@ikdoemee.local>"
    starttls: bool = False
    ssl: bool = False
    username_env: str | None = None
    password_env: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)


class NotificationsConfig(_Strict):
    fallback_moderators: list[str] = Field(default_factory=list)
    # Regional staff who admit moderators and read the report; empty: `fallback_moderators`.
    coordinators: list[str] = Field(default_factory=list)
    digest_hour: int = Field(default=8, ge=0, le=23)
    reminder_after_days: int = Field(default=3, ge=1)
    escalate_after_days: int = Field(default=7, ge=1)
    link_valid_days: int = Field(default=14, ge=1, le=90)
    # Demos and tests: build digests every N seconds instead of daily at `digest_hour`.
    digest_interval_seconds: int | None = Field(default=None, ge=1)


class DaemonConfig(_Strict):
    relay_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    relay_batch_size: int = Field(default=200, ge=1, le=10000)
    misfire_grace_seconds: int = Field(default=300, ge=1)
    # A failed delivery is retried after initial × 2^(attempts-1) seconds, at most max.
    outbox_backoff_initial_seconds: float = Field(default=30.0, ge=0)
    outbox_backoff_max_seconds: float = Field(default=3600.0, ge=0)


class HealthConfig(_Strict):
    # 503 when a source has not synced successfully for longer; default 3 × its interval.
    max_age_minutes: int | None = Field(default=None, ge=1)


class ModerationConfig(_Strict):
    # A moderator can take a decision back this long after taking it.
    undo_minutes: int = Field(default=10, ge=0, le=24 * 60)
    # Token bucket per client IP on the link routes: `burst` at once, refilled per minute.
    rate_limit_per_minute: int = Field(default=120, ge=1)
    rate_limit_burst: int = Field(default=60, ge=1)
    reason_max_length: int = Field(default=500, ge=20, le=5000)


class CatalogueConfig(_Strict):
    # Events only for the organizer's members (`audience.audienceType = members`) are not
    # for the public catalogue unless the region says so.
    include_members_only: bool = False
    # Our own term → activity type table instead of the one shipped (same TOML shape).
    activity_types_file: Path | None = None


class AppConfig(_Strict):
    region_file: Path = Path("westhoek_municipalities.json")
    sources: list[SourceConfig] = Field(min_length=1)
    web: WebConfig = WebConfig()
    smtp: SmtpConfig = SmtpConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    daemon: DaemonConfig = DaemonConfig()
    health: HealthConfig = HealthConfig()
    moderation: ModerationConfig = ModerationConfig()
    catalogue: CatalogueConfig = CatalogueConfig()

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[SourceConfig]) -> list[SourceConfig]:
        names = [s.name for s in sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique, repeated: {', '.join(dupes)}")
        return sources

    @field_validator("region_file")
    @classmethod
    def _region_exists(cls, path: Path) -> Path:
        if not path.is_file():
            raise ValueError(f"file not found: {path}")
        return path

    def source(self, name: str | None) -> SourceConfig:
        if name is None:
            return self.sources[0]
        for s in self.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sources)
        raise ConfigError(f"unknown source {name!r}; configured sources: {known}")


class EnvSettings(BaseSettings):
    """Settings that come from the environment only (never from the TOML file)."""

    model_config = SettingsConfigDict(env_prefix="IKDOEMEE_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    admin_token: str | None = None
    # Signs CSRF values and undo tickets of the moderation pages; random per process if unset.
    secret_key: str | None = None


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_config(path: Path) -> AppConfig:
    """Read and validate the TOML config; relative paths in it are relative to its folder."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    region = raw.get("region_file", "westhoek_municipalities.json")
    if isinstance(region, str) and not Path(region).is_absolute():
        raw["region_file"] = str(path.parent / region)
    catalogue = raw.get("catalogue")
    if isinstance(catalogue, dict):
        types_file = catalogue.get("activity_types_file")
        if isinstance(types_file, str) and not Path(types_file).is_absolute():
            catalogue["activity_types_file"] = str(path.parent / types_file)
    try:
        return AppConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{path}: invalid configuration"]
        for err in exc.errors():
            lines.append(f"  {_location(tuple(err['loc']))}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None
