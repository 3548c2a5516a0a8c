"""SQLAlchemy table definitions of the catalogue, queues, runs, failures and outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: SQLite keeps no offsets, PostgreSQL does."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

source_state = sa.Table(
    "source_state",
    metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("cursor", JSONType, nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

sync_runs = sa.Table(
    "sync_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # incremental | full | since | replay
    sa.Column("status", sa.String(16), nullable=False),  # running | succeeded | partial | failed
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("ended_at", UTCDateTime(), nullable=True),
    sa.Column("cursor_before", JSONType, nullable=True),
    sa.Column("cursor_after", JSONType, nullable=True),
    sa.Column("counts", JSONType, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
)

sync_failures = sa.Table(
    "sync_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("sync_runs.id"), nullable=False, index=True),
    sa.Column("source", sa.String(64), nullable=False, index=True),
    sa.Column("source_id", sa.String(128), nullable=True),
    sa.Column("stage", sa.String(16), nullable=False),  # fetch | map | store
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("raw_payload", sa.Text, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # open | resolved | ignored
    sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("resolved_at", UTCDateTime(), nullable=True),
    sa.Column("resolution", sa.Text, nullable=True),
)

activities = sa.Table(
    "activities",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("source_id", sa.String(128), nullable=False),
    # pending | published | rejected | withdrawn | expired
    # No index of its own: it leads three composite ones (below), which serve it as well.
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("municipality_nis", sa.String(8), nullable=False, index=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("next_occurrence", UTCDateTime(), nullable=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("source_modified", sa.String(32), nullable=True),
    sa.Column("current_version_id", sa.Integer, nullable=True),
    sa.Column("approved_version_id", sa.Integer, nullable=True),
    sa.Column("withdrawn_reason", sa.String(32), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # The last raw document (for `remap`), its fingerprint and the mapping that read it.
    sa.Column("raw_document", sa.Text, nullable=True),
    sa.Column("raw_fingerprint", sa.String(64), nullable=True),
    sa.Column("mapping_version", sa.String(40), nullable=True),
    # When the current version leaves the public catalogue; None: never (permanent).
    sa.Column("visible_until", UTCDateTime(), nullable=True, index=True),
    # When the next date is over and the one after it takes its place: until then the stored
    # next date holds, and a re-read of an unchanged document need not be mapped again.
    sa.Column("next_occurrence_over", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("source", "source_id", name="uq_activities_source_source_id"),
)

activity_versions = sa.Table(
    "activity_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # Found by the unique (activity_id, number) below: an index of its own only cost writes.
    sa.Column("activity_id", sa.Integer, sa.ForeignKey("activities.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("data", JSONType, nullable=False),
    sa.Column("source_modified", sa.String(32), nullable=True),
    sa.Column("run_id", sa.Integer, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("activity_id", "number", name="uq_activity_versions_activity_id_number"),
)

review_items = sa.Table(
    "review_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "activity_id", sa.Integer, sa.ForeignKey("activities.id"), nullable=False, index=True
    ),
    sa.Column("version_id", sa.Integer, sa.ForeignKey("activity_versions.id"), nullable=False),
    sa.Column("municipality_nis", sa.String(8), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # new | changed | withdrawn
    # open | superseded | approved | rejected | confirmed | expired
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64), nullable=True),  # why withdrawn
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("decided_at", UTCDateTime(), nullable=True),
    sa.Column("decided_by", sa.String(255), nullable=True),
    sa.Column("decision_reason", sa.Text, nullable=True),
    sa.Column("superseded_by_id", sa.Integer, nullable=True),
    # Optimistic concurrency for moderators' decisions.
    sa.Column("lock_version", sa.Integer, nullable=False, server_default="1"),
    sa.Index("ix_review_items_queue", "municipality_nis", "status"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("topic", sa.String(64), nullable=False),
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("available_at", UTCDateTime(), nullable=False),
    sa.Column("delivered_at", UTCDateTime(), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Index("ix_outbox_pending", "delivered_at", "available_at"),
)

moderators = sa.Table(
    "moderators",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("notify", sa.String(16), nullable=False, server_default="daily"),  # immediate|daily
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

moderator_municipalities = sa.Table(
    "moderator_municipalities",
    metadata,
    sa.Column("moderator_id", sa.Integer, sa.ForeignKey("moderators.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("municipality_nis", sa.String(8), primary_key=True, index=True),
)

# E-mail link tokens: only a hash of the random token is stored.
link_tokens = sa.Table(
    "link_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("moderator_id", sa.Integer, sa.ForeignKey("moderators.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("scope", sa.String(16), nullable=False),  # item | queue
    sa.Column("review_item_id", sa.Integer, sa.ForeignKey("review_items.id"), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime(), nullable=True),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
)

# Which review items were announced to which moderator, and how (digest, immediate, reminder,
# escalation): the digest only mails what is new, reminders and escalation only once.
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("moderator_id", sa.Integer, sa.ForeignKey("moderators.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("review_item_id", sa.Integer, sa.ForeignKey("review_items.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("outbox_id", sa.Integer, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("moderator_id", "review_item_id", "kind",
                        name="uq_notifications_moderator_item_kind"),
)

# Append-only log of moderators' decisions.
decision_log = sa.Table(
    "decision_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("review_item_id", sa.Integer, sa.ForeignKey("review_items.id"), nullable=False,
              index=True),
    sa.Column("activity_id", sa.Integer, sa.ForeignKey("activities.id"), nullable=False),
    sa.Column("moderator_id", sa.Integer, nullable=True),
    sa.Column("moderator_email", sa.String(320), nullable=False),
    sa.Column("via", sa.String(16), nullable=False),  # link | page | cli
    sa.Column("link_token_id", sa.Integer, nullable=True),
    sa.Column("scope_used", sa.String(16), nullable=False),  # own | fallback | admin
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("before_state", sa.String(16), nullable=False),
    sa.Column("after_state", sa.String(16), nullable=False),
    sa.Column("corrections", JSONType, nullable=True),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("user_agent", sa.String(400), nullable=True),
    sa.Column("at", UTCDateTime(), nullable=False),
)

# Migration 0005 (moderation pages): what a decision changed, for undo and audit.
decision_log.append_column(sa.Column("before_version_id", sa.Integer, nullable=True))
decision_log.append_column(sa.Column("after_version_id", sa.Integer, nullable=True))
decision_log.append_column(sa.Column("lock_version", sa.Integer, nullable=True))
decision_log.append_column(sa.Column("undo_of_id", sa.Integer, nullable=True))

# Migration 0008 (history, coverage, outreach): the coordinator's report.
# One row per day a snapshot was taken; `totals` holds the activity count per state.
history_days = sa.Table(
    "history_days",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("taken_at", UTCDateTime(), nullable=False),
    sa.Column("totals", JSONType, nullable=False),
)

# Activities per municipality × activity type × language level × state on a day. An activity
# with two types counts in both rows; "" stands for "none" (no type or no level).
history_counts = sa.Table(
    "history_counts",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("municipality_nis", sa.String(8), primary_key=True),
    sa.Column("activity_type", sa.String(32), primary_key=True),
    sa.Column("language_level", sa.String(2), primary_key=True),
    sa.Column("state", sa.String(16), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)

# Days on which an activity was public, as closed intervals [first_day, last_day].
publication_periods = sa.Table(
    "publication_periods",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("activity_id", sa.Integer, sa.ForeignKey("activities.id"), nullable=False,
              index=True),
    sa.Column("first_day", sa.Date, nullable=False),
    sa.Column("last_day", sa.Date, nullable=False, index=True),
    sa.UniqueConstraint("activity_id", "first_day",
                        name="uq_publication_periods_activity_id_first_day"),
)

# UiT events per municipality on a day: all upcoming ones and those with a taalicoon.
coverage_counts = sa.Table(
    "coverage_counts",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("municipality_nis", sa.String(8), primary_key=True),
    sa.Column("upcoming_events", sa.Integer, nullable=False),
    sa.Column("with_taalicoon", sa.Integer, nullable=False),
    sa.Column("measured_at", UTCDateTime(), nullable=False),
)

# Organizers with upcoming UiT events in the region but none with a taalicoon (weekly).
outreach_organizers = sa.Table(
    "outreach_organizers",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("organizer_id", sa.String(128), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("upcoming_events", sa.Integer, nullable=False),
    sa.Column("municipalities", JSONType, nullable=False),
    sa.Column("contact", JSONType, nullable=False),
    sa.Column("measured_at", UTCDateTime(), nullable=False),
)

# Migration 0007 (moderator onboarding and preferences).
# A weekly digest goes out on this weekday (0 = Monday); `away_until`: the moderator's items go
# to the fallback moderators until and including this date.
moderators.append_column(sa.Column("digest_weekday", sa.Integer, nullable=True))
moderators.append_column(sa.Column("away_until", sa.Date, nullable=True))

# Someone asking to become a moderator: unconfirmed → pending (address confirmed) → approved
# or denied; a request older than its validity is expired whatever its status says.
moderator_requests = sa.Table(
    "moderator_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(320), nullable=False, index=True),
    sa.Column("municipalities", JSONType, nullable=False),  # NIS codes
    sa.Column("organisation", sa.String(200), nullable=False),
    sa.Column("motivation", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("ip", sa.String(64), nullable=True, index=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("confirmed_at", UTCDateTime(), nullable=True),
    sa.Column("decided_at", UTCDateTime(), nullable=True),
    sa.Column("decided_by", sa.String(320), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("moderator_id", sa.Integer, nullable=True),
)

# One-purpose mail tokens outside the review queue (confirm a request, a coordinator's
# approve/deny, confirm a new address): like link_tokens, only the SHA-256 hash is stored.
action_tokens = sa.Table(
    "action_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("purpose", sa.String(16), nullable=False),  # confirm | coordinate | email
    sa.Column("request_id", sa.Integer,
              sa.ForeignKey("moderator_requests.id", ondelete="CASCADE"), nullable=True,
              index=True),
    sa.Column("moderator_id", sa.Integer, sa.ForeignKey("moderators.id", ondelete="CASCADE"),
              nullable=True, index=True),
    sa.Column("email", sa.String(320), nullable=False),  # whom it was mailed to
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime(), nullable=True),
)

# The public search index: one row per published activity, the normalised words of its
# approved version (sync.domain.search_text.body). A row whose version_id is not the
# activity's approved version is stale and never matches. SQLite mirrors `body` into the
# FTS5 table SQLITE_FTS by triggers; PostgreSQL has a GIN index on to_tsvector('simple',
# body). Both are made by migration 0009 only: neither fits a Table declaration.
search_documents = sa.Table(
    "search_documents",
    metadata,
    sa.Column("activity_id", sa.Integer, sa.ForeignKey("activities.id"), primary_key=True,
              autoincrement=False),
    sa.Column("version_id", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)
SQLITE_FTS = "search_fts"
PG_BODY_INDEX = "ix_search_documents_body"

# "Has the public catalogue changed?" is asked on every search (count, sums of ids and
# approved versions, newest change of the published activities): answered from this index.
sa.Index("ix_activities_published_stamp", activities.c.state, activities.c.approved_version_id,
         activities.c.id, activities.c.updated_at)

# The housekeeping after every sync run (schema 0012): live activities whose dates are over,
# found through these instead of reading every live row (0.1-0.2 s at 100 000 on SQLite).
sa.Index("ix_activities_state_until", activities.c.state, activities.c.visible_until)
sa.Index("ix_activities_state_next", activities.c.state, activities.c.next_occurrence_over,
         activities.c.next_occurrence)

# Migration 0010 (skipped events).
# Events the mapping leaves out (no taalicoon, outside the region, cancelled, ...): the nightly
# reconciliation counts them as known instead of fetching them in full every night. `modified`
# and `mapping_version` say which read decided it; a change at the source or a new mapping
# decides again.
skipped_events = sa.Table(
    "skipped_events",
    metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("source_id", sa.String(128), primary_key=True),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("modified", sa.String(32), nullable=True),
    sa.Column("mapping_version", sa.String(40), nullable=True),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    # The raw document's fingerprint: a re-read of the same document is skipped unmapped.
    sa.Column("raw_fingerprint", sa.String(64), nullable=True),
)
