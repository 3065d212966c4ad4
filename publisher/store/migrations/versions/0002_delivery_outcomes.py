"""Outcomes that say what happened, complaints, and a suppression list.

- deliveries: "failed" splits into "gave_up" (soft failures ran out, or the
  sender was refused: never the reader's fault) and "bounced" (a hard bounce);
  new "uncertain" (a timeout after the data) and "complained"; a count of
  uncertain attempts, so that such a message is retried at most once.
- subscribers: a new status "complained". Readers the first release marked
  bounced for soft failures ("gave up after ...") or for a sender-side refusal
  (a 5.7.x reply) are made active again: by today's rules they never left.
- suppressions: one-way hashes of removed addresses that must stay off the list.

On SQLite the tables are rebuilt (a CHECK constraint cannot be altered; the
ledger twice, so that its rows change status between the old and the new check);
the caller runs this with foreign keys off, so that dropping the old table
cascades nowhere, and keeps the AUTOINCREMENT counter, so no id is reused.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SUBSCRIBER_STATUSES = "'pending', 'active', 'unsubscribed', 'bounced', 'complained'"
DELIVERY_STATUSES = ("'pending', 'sent', 'deferred', 'uncertain', 'gave_up', 'bounced', "
                     "'complained', 'skipped'")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    counter = _autoincrement_counter() if sqlite else None
    with op.batch_alter_table("subscribers", table_kwargs={"sqlite_autoincrement": True}) as t:
        t.drop_constraint("subscribers_status_valid", type_="check")
        t.create_check_constraint("subscribers_status_valid",
                                  sa.text(f"status IN ({SUBSCRIBER_STATUSES})"))
    with op.batch_alter_table("deliveries", table_kwargs={"sqlite_with_rowid": False}) as t:
        t.drop_constraint("deliveries_status_valid", type_="check")
        t.add_column(sa.Column("uncertain", sa.Integer, nullable=False, server_default="0"))
    if counter is not None:
        op.execute(sa.text("UPDATE sqlite_sequence SET seq = max(seq, :seq) "
                           "WHERE name = 'subscribers'").bindparams(seq=counter))
    op.execute("UPDATE deliveries SET status = 'gave_up' WHERE status = 'failed' AND "
               "(reply LIKE 'gave up after %' OR reply LIKE '5__ 5.7.%')")
    op.execute("UPDATE deliveries SET status = 'bounced' WHERE status = 'failed'")
    op.execute("UPDATE subscribers SET status = 'active', status_reason = 'made active "
               "again: ' || status_reason WHERE status = 'bounced' AND (status_reason LIKE "
               "'gave up after %' OR status_reason LIKE '5__ 5.7.%')")
    with op.batch_alter_table("deliveries", table_kwargs={"sqlite_with_rowid": False}) as t:
        t.create_check_constraint("deliveries_status_valid",
                                  sa.text(f"status IN ({DELIVERY_STATUSES})"))
    op.create_table(
        "suppressions",
        sa.Column("address_hash", sa.String(64), primary_key=True),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute("UPDATE store_meta SET value = '2' WHERE key = 'schema_version'")


def _autoincrement_counter() -> int | None:
    found = op.get_bind().execute(sa.text(
        "SELECT seq FROM sqlite_sequence WHERE name = 'subscribers'")).scalar()
    return None if found is None else int(found)


def downgrade() -> None:
    raise NotImplementedError("a store is never made older: restore a backup instead")
