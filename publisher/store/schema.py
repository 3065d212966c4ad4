"""The tables of the store, and the check that a database holds exactly these tables.

Kept apart from `store.py` so that the queries there read against a schema
that is declared once. The SQL is portable: SQLite and PostgreSQL share every
table and statement; only the upsert construct is taken from the dialect.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

SCHEMA_VERSION = 1
_SCHEMA_LOCK = 0x7075626C  # any constant: the advisory lock taken while creating tables

SUBSCRIBER_STATUSES = ("pending", "active", "unsubscribed", "bounced")
DELIVERY_STATUSES = ("pending", "sent", "deferred", "failed", "skipped")
DONE = ("sent", "failed")  # a delivery in one of these states is never attempted again


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
    PrimaryKeyConstraint("digest_id", "subscriber_id"),  # one row per (digest, subscriber)
    _one_of("deliveries", "status", DELIVERY_STATUSES),
    sqlite_with_rowid=False,  # one b-tree to write per message instead of two
)
Index("deliveries_subscriber", deliveries.c.subscriber_id)

schedule_state = Table(
    "schedule_state",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("last_due_at", UTCDateTime(), nullable=True),
    Column("outcome", String(32), nullable=False),
    Column("message", Text, nullable=False, default=""),
    Column("ran_at", UTCDateTime(), nullable=False),
)


def ensure_schema(conn: Connection) -> str | None:
    """Create the tables in an empty database; return why an existing one does not fit.

    Returns None when the database is (now) usable. The caller holds a write
    transaction, so two processes opening a new database at once create it once.
    """
    if conn.dialect.name == "postgresql":  # SQLite's BEGIN IMMEDIATE already serialises this
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
    existing = set(inspect(conn).get_table_names())
    ours = set(metadata.tables)
    if not existing & ours:
        metadata.create_all(conn)
        conn.execute(insert(store_meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
        return None
    if "store_meta" not in existing:
        return "it holds tables of another program, not a publisher store"
    version = conn.execute(
        select(store_meta.c.value).where(store_meta.c.key == "schema_version")
    ).scalar()
    if version != str(SCHEMA_VERSION):
        return f"it has schema version {version}, this publisher uses version {SCHEMA_VERSION}"
    return _column_mismatch(conn, existing)


def _column_mismatch(conn: Connection, existing: set[str]) -> str | None:
    inspector = inspect(conn)
    for name, table in metadata.tables.items():
        if name not in existing:
            return f"the table {name} is missing"
        found = {column["name"] for column in inspector.get_columns(name)}
        missing = [c.name for c in table.columns if c.name not in found]
        if missing:
            return f"the table {name} lacks the column {missing[0]}"
    return None
