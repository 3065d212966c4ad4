"""The tables of the store, as they are after the newest migration.

Kept apart from `database.py` so that the queries there read against a schema
that is declared once. The SQL is portable: SQLite and PostgreSQL share every
table and statement; only the upsert construct is taken from the dialect.
A new database is made from these tables and stamped with `REVISION`; an older
one is brought up to it by the numbered migrations in `migrations/`
(`publisher.store.migrate`), which a test keeps in step with these tables.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
)
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

REVISION = "0006"  # the newest migration in migrations/versions/; a test checks it is the head
SCHEMA_VERSION = 6  # kept in store_meta for people who look; the migrations go by REVISION

SUBSCRIBER_STATUSES = ("pending", "active", "unsubscribed", "bounced", "complained")
SUPPRESSED = ("unsubscribed", "bounced", "complained")  # never made active again by an import
DELIVERY_STATUSES = ("queued", "pending", "sent", "deferred", "uncertain", "gave_up",
                     "bounced", "complained", "skipped")
# A delivery in one of these states is never attempted again. An "uncertain" row is
# retried once, when its next_attempt_at comes; without one it is final too.
DONE = ("sent", "gave_up", "bounced", "complained", "skipped")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored in UTC and always returned aware (in UTC).

    SQLite has no time zones: the value is stored as naive UTC text in one fixed
    format, so comparing two stored values compares the moments.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"the store needs timezone-aware datetimes, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _one_of(table: str, column: str, values: tuple[str, ...]) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{table}_{column}_valid")


metadata = MetaData()

store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False),  # as given, domain lower-cased
    Column("email_key", String(320), nullable=False, unique=True),  # for comparison
    Column("name", Text, nullable=False, default=""),
    Column("tags", Text, nullable=False, default=""),  # "a,b": lower-case, no commas inside
    Column("status", String(16), nullable=False),
    Column("status_reason", Text, nullable=True),  # e.g. the bounce reply
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # the reader's choices (the preference page): a choosable digest schedule's name, an
    # IANA zone and a local hour; NULL = every digest, the site's zone, the schedule's time
    Column("cadence", String(100), nullable=True),
    Column("timezone", String(64), nullable=True),
    Column("hour", Integer, nullable=True),
    _one_of("subscribers", "status", SUBSCRIBER_STATUSES),
    sqlite_autoincrement=True,  # an id is never used twice, even after a deletion
)
Index("subscribers_status_id", subscribers.c.status, subscribers.c.id)

digests = Table(
    "digests",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("schedule", String(100), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("subject", Text, nullable=False),
    Column("audience", Text, nullable=False, default=""),  # subscriber tags, "" = everyone
    Column("created_at", UTCDateTime(), nullable=False),
    Column("completed_at", UTCDateTime(), nullable=True),
    # a digest readers choose as their cadence: its name, the choosable schedules when it
    # was made, and every article it could hold for anyone (one id a line)
    Column("cadence", String(100), nullable=True),
    Column("cadences", Text, nullable=False, default="", server_default=""),
    Column("pool", Text, nullable=False, default="", server_default=""),
    # a local schedule's digest for one group of readers: their zone (zone_default 1: and
    # readers without one) and their chosen hour (NULL: readers who chose none)
    Column("zone", String(64), nullable=True),
    Column("zone_default", Integer, nullable=False, default=0, server_default="0"),
    Column("hour", Integer, nullable=True),
    UniqueConstraint("schedule", "due_at", name="digests_schedule_due_at"),
)

digest_items = Table(
    "digest_items",
    metadata,
    Column("digest_id", String(80), ForeignKey("digests.id", ondelete="CASCADE"),
           nullable=False),
    Column("position", Integer, nullable=False),
    Column("article_id", String(200), nullable=False),
    PrimaryKeyConstraint("digest_id", "position"),
    UniqueConstraint("digest_id", "article_id", name="digest_items_article"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("digest_id", String(80), ForeignKey("digests.id", ondelete="CASCADE"),
           nullable=False),
    Column("subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"),
           nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    Column("reply", Text, nullable=False, default=""),
    Column("updated_at", UTCDateTime(), nullable=False),
    # attempts whose outcome nobody knows (a timeout after the data): never more than one retry
    Column("uncertain", Integer, nullable=False, default=0, server_default="0"),
    # who claimed a pending row, and until when no other sender may take it over
    Column("holder", String(64), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    # the articles this reader's message holds (a chosen-cadence digest), fixed at the claim
    Column("article_set", Integer, nullable=True),
    PrimaryKeyConstraint("digest_id", "subscriber_id"),  # one row per (digest, subscriber)
    _one_of("deliveries", "status", DELIVERY_STATUSES),
    sqlite_with_rowid=False,  # one b-tree to write per message instead of two
)
Index("deliveries_subscriber", deliveries.c.subscriber_id)

# The distinct sets of articles a chosen-cadence digest's readers were sent: one row per
# set (`key`: a hash of the ids), shared by every reader whose message holds it.
article_sets = Table(
    "article_sets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("digest_id", String(80), ForeignKey("digests.id", ondelete="CASCADE"),
           nullable=False),
    Column("key", String(64), nullable=False),
    Column("article_ids", Text, nullable=False),  # one id a line, newest first
    Column("shown", Integer, nullable=False),  # how many the message lists; the rest linked
    UniqueConstraint("digest_id", "key", name="article_sets_digest_key"),
)

# A digest as rendered once, for senders on other machines: they build each reader's
# message from it without the articles, the templates or premailer.
renderings = Table(
    "renderings",
    metadata,
    Column("digest_id", String(80), ForeignKey("digests.id", ondelete="CASCADE"),
           primary_key=True),
    Column("subject", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=False),
)

# A rate shared by every sender of a site: tokens, refilled by the time since `updated_at`.
rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Requests the web service counts against its limits, shared by all its replicas.
limit_hits = Table(
    "limit_hits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scope", String(16), nullable=False),  # "client" or "recipient"
    Column("key", String(400), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)
Index("limit_hits_scope_key_at", limit_hits.c.scope, limit_hits.c.key, limit_hits.c.at)

# Addresses that must never be made active again by an import or an `add`, kept as a
# one-way hash once the subscriber's row (and so their personal data) is gone.
suppressions = Table(
    "suppressions",
    metadata,
    Column("address_hash", String(64), primary_key=True),  # sha256 of the address_key, hex
    Column("reason", String(16), nullable=False),  # unsubscribed, bounced, complained, removed
    Column("created_at", UTCDateTime(), nullable=False),
)

schedule_state = Table(
    "schedule_state",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("last_due_at", UTCDateTime(), nullable=True),
    Column("outcome", String(32), nullable=False),
    Column("message", Text, nullable=False, default=""),
    Column("ran_at", UTCDateTime(), nullable=False),
)


# Alembic's own table, declared here so that a new database is stamped without importing
# Alembic (about 0.3 s); the shape is the one Alembic creates.
alembic_version = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def column_mismatch(conn: Connection) -> str | None:
    """Why a database at `REVISION` does not hold these tables, or None if it does."""
    inspector = inspect(conn)
    existing = set(inspector.get_table_names())
    for name, table in metadata.tables.items():
        if name not in existing:
            return f"the table {name} is missing"
        found = {column["name"] for column in inspector.get_columns(name)}
        missing = [c.name for c in table.columns if c.name not in found]
        if missing:
            return f"the table {name} lacks the column {missing[0]}"
    return None
