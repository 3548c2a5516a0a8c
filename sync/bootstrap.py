"""Composition root: wires settings, database, region, connectors and mappings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy.engine import Connection, Engine

from connectors.uitdatabank import UitdatabankConnector
from mappings.activity_types import TypeTable, TypeTableError, default_type_table, load_type_table
from mappings.taaliconen import QUERY_LABELS
from mappings.uitdatabank import DocumentMapper, mapping_version
from sync.adapters import migrate
from sync.adapters.database import READ_ONLY, DatabaseUrlError, make_engine
from sync.adapters.locks import source_lock, supports_locks, try_lock
from sync.adapters.mailer import Mailer, SmtpMailer
from sync.adapters.region_file import RegionFileError, load_region
from sync.adapters.tls import tls_context
from sync.domain.events import ActivityChanged, ActivityDiscovered, ActivityWithdrawn
from sync.domain.region import Region
from sync.service.catalogue_query import new_catalogue
from sync.service.mapping_pool import MappingPool, worker_count
from sync.service.outbox import Delivery, Handler, OutboxRelay
from sync.service.public_catalogue import PublicCatalogue
from sync.service.sync_source import Mapper, SyncService
from sync.service.unit_of_work import UnitOfWork
from sync.settings import AppConfig, ConfigError, EnvSettings, SourceConfig, load_config

if TYPE_CHECKING:
    # Imported where used: notification and review pages bring the mail templates (Jinja),
    # which a sync from cron or `--help` does not need.
    from sync.service.notify import NotifySettings

USER_AGENT = "ikdoemee-sync/0.1 (+https://ikdoemee.be)"

# What can stop `bootstrap()` with a message for the operator (each names its key or file).
STARTUP_ERRORS = (ConfigError, RegionFileError, DatabaseUrlError)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# The mapping with the shipped type table.
map_uitdatabank = DocumentMapper()


def load_types(config: AppConfig) -> TypeTable:
    """The configured type table; a bad file stops the program with the key that names it."""
    try:
        return load_type_table(config.catalogue.activity_types_file)
    except TypeTableError as exc:
        raise ConfigError(f"catalogue.activity_types_file: {exc}") from None


def review_diff(before: dict[str, Any], after: dict[str, Any]) -> list[Any]:
    """What a moderator sees differ between two versions (`review_view.diff`), loaded on
    first use: a sync needs it only when a new mapping re-reads an unchanged document."""
    from sync.service import review_view

    return review_view.diff(before, after)


def immediate_notice(settings: NotifySettings) -> Handler:
    """Mail the moderators who chose immediate notice about the event's review item."""

    from sync.service.notify import notify_immediately

    def handle(d: Delivery) -> None:
        notify_immediately(d.conn, settings, int(d.payload["review_item_id"]), d.now)

    return handle


# Which handler reacts to which outbox topic. `email.send` (TOPIC_EMAIL) is the relay's own:
# it goes out by SMTP. `review.decided` has no subscriber yet: the relay marks it delivered.
EVENT_HANDLERS: dict[str, Callable[[NotifySettings], Handler]] = {
    ActivityDiscovered.topic: immediate_notice,
    ActivityChanged.topic: immediate_notice,
    ActivityWithdrawn.topic: immediate_notice,
}


@dataclass
class App:
    """Everything an entrypoint needs, built once."""

    config: AppConfig
    env: EnvSettings
    engine: Engine
    region: Region
    clock: Callable[[], datetime] = utcnow
    transport: httpx.BaseTransport | None = None  # tests inject one
    sleep: Callable[[float], None] | None = None
    mailer: Mailer | None = None  # tests inject one; default: SMTP from `[smtp]`
    types: TypeTable = field(default_factory=default_type_table)
    _clients: list[httpx.Client] = field(default_factory=list)
    # The public catalogue's in-memory side, shared by the requests of this process.
    catalogue: PublicCatalogue = field(default_factory=new_catalogue)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A transaction that only reads (one consistent view); never waits for a writer."""
        with self.engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                yield conn

    def lock(self, name: str) -> AbstractContextManager[bool]:
        """A named cross-process lock: yields whether this process holds it for the block."""
        return try_lock(self.engine, name)

    def source_lock(self, source: str) -> AbstractContextManager[bool]:
        """The lock every sync of `source` holds: the daemon's jobs and the CLI alike."""
        return try_lock(self.engine, source_lock(source))

    @property
    def several_instances(self) -> bool:
        """Only PostgreSQL can coordinate several daemons; SQLite is one process by design."""
        return supports_locks(self.engine)

    def schema_gap(self) -> tuple[str | None, str | None] | None:
        """(have, need) when the database is not at this version's schema, else None."""
        have, need = migrate.current(self.engine), migrate.head()
        return None if have == need else (have, need)

    def http_client(self, source: SourceConfig) -> httpx.Client:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/ld+json, application/json"}
        client_id = source.client_id()
        if client_id:
            headers["x-client-id"] = client_id
        client = httpx.Client(
            base_url=source.base_url,
            headers=headers,
            timeout=httpx.Timeout(
                source.timeout_seconds, connect=min(10.0, source.timeout_seconds)
            ),
            transport=self.transport,
            verify=tls_context(),
        )
        self._clients.append(client)
        return client

    def connector(self, source: SourceConfig) -> UitdatabankConnector:
        extra: dict[str, Any] = {}
        if self.sleep is not None:
            extra["sleep"] = self.sleep
        return UitdatabankConnector(
            self.http_client(source),
            name=source.name,
            postal_codes=self.region.postal_codes,
            labels=QUERY_LABELS,
            limit=source.limit,
            max_attempts=source.max_attempts,
            backoff_initial=source.backoff_initial_seconds,
            backoff_max=source.backoff_max_seconds,
            retry_after_max=source.retry_after_max_seconds,
            **extra,
        )

    def mapper(self) -> Mapper:
        """The mapping with the configured type table (the shipped one by default)."""
        if self.types is default_type_table():
            return map_uitdatabank  # looked up now, so tests can swap it
        return DocumentMapper(self.types)

    def mapping_pool(self) -> MappingPool | None:
        """Workers for the mapping of large pages, as `[catalogue] mapping_workers` says;
        none when a stand-in replaces the mapping (tests), which the workers would not use."""
        workers = self.config.catalogue.mapping_workers
        workers = worker_count() if workers is None else workers
        mapper = self.mapper()
        if workers <= 0 or not isinstance(mapper, DocumentMapper):
            return None
        return MappingPool(mapper, self.region, workers)

    @property
    def mapping_version(self) -> str:
        return mapping_version(self.types)

    def sync_service(self, source: SourceConfig) -> SyncService:
        return SyncService(source.name, self.region, self.mapper(), self.clock,
                           mapping_version=self.mapping_version, review_diff=review_diff,
                           pool=self.mapping_pool())

    def get_mailer(self) -> Mailer:
        if self.mailer is None:
            self.mailer = SmtpMailer(self.config.smtp)
        return self.mailer

    def notify_settings(self) -> NotifySettings:
        from sync.service.notify import NotifySettings

        n = self.config.notifications
        return NotifySettings(
            base_url=self.config.web.base_url,
            sender=self.config.smtp.sender,
            link_valid_days=n.link_valid_days,
            fallback_emails=tuple(n.fallback_moderators),
            reminder_after_days=n.reminder_after_days,
            escalate_after_days=n.escalate_after_days,
            municipality_names={m.nis: m.name for m in self.region.municipalities},
            coordinators=tuple(n.coordinators if n.coordinators is not None
                               else n.fallback_moderators),
        )

    def relay(self) -> OutboxRelay:
        """The outbox relay: mail goes out by SMTP; activity events mail immediate-mode
        moderators (the digest picks up everyone else)."""
        settings = self.notify_settings()
        d = self.config.daemon
        return OutboxRelay(
            self.engine, self.clock, mailer=self.get_mailer(),
            handlers={topic: make(settings) for topic, make in EVENT_HANDLERS.items()},
            batch_size=d.relay_batch_size, backoff_initial=d.outbox_backoff_initial_seconds,
            backoff_max=d.outbox_backoff_max_seconds,
        )

    def close(self) -> None:
        for c in self._clients:
            c.close()
        self._clients.clear()
        self.engine.dispose()


def bootstrap(config_path: Path, env: EnvSettings | None = None, **overrides: Any) -> App:
    config = load_config(config_path)
    env = env or EnvSettings()
    engine = make_engine(env.database_url, create_folder=env.uses_default_database)
    region = load_region(config.region_file)
    overrides.setdefault("types", load_types(config))
    return App(config=config, env=env, engine=engine, region=region, **overrides)


def upgrade_database(env: EnvSettings | None = None) -> str | None:
    """Create or migrate the configured database; returns the schema it is at now."""
    env = env or EnvSettings()
    engine = make_engine(env.database_url, create_folder=env.uses_default_database)
    try:
        migrate.upgrade(engine)
        return migrate.current(engine)
    finally:
        engine.dispose()

