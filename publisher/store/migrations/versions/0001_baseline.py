"""The store as the first release made it (schema version 1).

A database made before migrations existed holds exactly these tables; it is
stamped with this revision, then upgraded. Run on an empty database, this
creates them.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'active', 'unsubscribed', 'bounced')",
                           name="subscribers_status_valid"),
        sqlite_autoincrement=True,
    )
    op.create_index("subscribers_status_id", "subscribers", ["status", "id"])
    op.create_table(
        "digests",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("schedule", sa.String(100), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("audience", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("schedule", "due_at", name="digests_schedule_due_at"),
    )
    op.create_table(
        "digest_items",
        sa.Column("digest_id", sa.String(80), sa.ForeignKey("digests.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("article_id", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("digest_id", "position"),
        sa.UniqueConstraint("digest_id", "article_id", name="digest_items_article"),
    )
    op.create_table(
        "deliveries",
        sa.Column("digest_id", sa.String(80), sa.ForeignKey("digests.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("subscriber_id", sa.Integer,
                  sa.ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest_id", "subscriber_id"),
        sa.CheckConstraint("status IN ('pending', 'sent', 'deferred', 'failed', 'skipped')",
                           name="deliveries_status_valid"),
        sqlite_with_rowid=False,
    )
    op.create_index("deliveries_subscriber", "deliveries", ["subscriber_id"])
    op.create_table(
        "schedule_state",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("last_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute("INSERT INTO store_meta (key, value) VALUES ('schema_version', '1')")


def downgrade() -> None:
    for table in ("schedule_state", "deliveries", "digest_items", "digests", "subscribers",
                  "store_meta"):
        op.drop_table(table)
