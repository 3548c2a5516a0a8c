"""Settings: the TOML config file validated with pydantic, and environment variables."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from sync.domain.calendar import BRUSSELS
from sync.service.moderators import ModeratorError, normalise_email

DEFAULT_CONFIG_PATH = Path("config/ikdoemee.toml")
DEFAULT_DATABASE_URL = "sqlite:///data/ikdoemee.sqlite3"
MIN_SECRET_LENGTH = 32


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and what is wrong."""


def _http_url(value: str) -> str:
    # An e-mail link or an API page built on anything else is broken or dangerous.
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("must not contain spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL such as https://ikdoemee.be, not {value!r}")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ValueError(f"bad port: {exc}") from None
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("must not contain a user, password, query or fragment")
    return value


def _address(value: str) -> str:
    # CR/LF in an address would write mail headers of its own (and stop every digest).
    if any(not c.isprintable() for c in value):
        raise ValueError(f"must not contain control characters (CR, LF, ...): {value!r}")
    try:
        return normalise_email(value)
    except ModeratorError as exc:
        raise ValueError(str(exc)) from None


def _sender(value: str) -> str:
    if any(not c.isprintable() for c in value):
        raise ValueError(f"must not contain control characters (CR, LF, ...): {value!r}")
    _address(parseaddr(value)[1] or value)
    return value


def _cron(value: str) -> str:
    try:
        CronTrigger.from_crontab(value, timezone=BRUSSELS)
    except ValueError as exc:
        raise ValueError(f"not a cron expression (minute hour day month weekday): {exc}"
                         ) from None
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
Address = Annotated[str, AfterValidator(_address)]


class _Strict(BaseModel):
    # A misspelt key must stop the program, not be ignored silently.
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    connector: Literal["uitdatabank"]
    base_url: HttpUrl
    client_id_env: str | None = None
    limit: int = Field(default=200, ge=1, le=2000)
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    max_attempts: int = Field(default=6, ge=1, le=20)
    backoff_initial_seconds: float = Field(default=0.5, ge=0, le=60)
    backoff_max_seconds: float = Field(default=30.0, ge=0, le=3600)
    retry_after_max_seconds: float = Field(default=300.0, ge=0, le=3600)
    interval_minutes: int = Field(default=15, ge=1, le=24 * 60)
    reconcile_cron: Annotated[str, AfterValidator(_cron)] = "0 3 * * *"
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
    base_url: HttpUrl = "http://127.0.0.1:8080"
    # Prometheus: with a port /metrics leaves the web port for a listener of its own (e.g. on
    # an internal address); without one it stays on the web port behind the admin token.
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Proxies whose X-Forwarded-For/-Proto are believed (IP addresses or networks); by default
    # nobody's, so a client cannot choose the address the rate limits count.
    forwarded_allow_ips: list[str] = Field(default_factory=list)
    # Public catalogue (/activiteiten…, /api/activities…) per client address: a token bucket
    # of `burst` requests refilled at `per_minute`; 0 switches the limit off.
    public_rate_limit_per_minute: int = Field(default=600, ge=0, le=1_000_000)
    public_rate_limit_burst: int = Field(default=120, ge=1, le=1_000_000)

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {value!r}") from None
        return values

    @model_validator(mode="after")
    def _ports_differ(self) -> WebConfig:
        if self.metrics_port is not None and self.metrics_port == self.port:
            raise ValueError("metrics_port must differ from port")
        return self


class SmtpConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    sender: Annotated[str, AfterValidator(_sender)] = "ikdoemee <noreply@ikdoemee.local>"
    starttls: bool = False
    ssl: bool = False
    username_env: str | None = None
    password_env: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)


class NotificationsConfig(_Strict):
    fallback_moderators: list[Address] = Field(default_factory=list)
    # Who approves requests to become a moderator and reads the report (e-mail addresses);
    # default: the fallback moderators.
    coordinators: list[Address] | None = None
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
    # Processes that map the new documents of large pages (an initial sync, a catch-up)
    # while the sync stores the page before; unset: every core but one; 0: none.
    mapping_workers: int | None = Field(default=None, ge=0, le=64, strict=True)


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

    @property
    def uses_default_database(self) -> bool:
        return self.database_url == DEFAULT_DATABASE_URL

    def weak_secrets(self) -> list[str]:
        """What `run` and `web` refuse: a secret anyone could guess in a few tries."""
        out = []
        for name, value in (("IKDOEMEE_ADMIN_TOKEN", self.admin_token),
                            ("IKDOEMEE_SECRET_KEY", self.secret_key)):
            make = ("e.g. from `python3 -c \"import secrets; "
                    "print(secrets.token_urlsafe(32))\"`")
            if value and len(value) < MIN_SECRET_LENGTH:
                out.append(f"{name}: too short ({len(value)} characters); use at least "
                           f"{MIN_SECRET_LENGTH} random ones, {make}")
            elif value and value.startswith("change-me"):
                out.append(f"{name}: still the example value of config/.env.example; {make}")
        return out


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
    except IsADirectoryError as exc:
        raise ConfigError(f"{path}: is a folder; give the config file itself") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"
                          ) from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
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
