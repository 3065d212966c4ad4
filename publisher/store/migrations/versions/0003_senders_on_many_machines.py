"""Senders on many machines: leases on ledger rows, queued rows, shared renderings and limits.

- deliveries: who claimed a pending row (`holder`) and until when (`lease_until`):
  another sender takes the row over only once the lease has run out; a new
  status "queued" for rows made before a pool of workers sends them.
- renderings: a digest's subject, HTML and text as rendered once, so that a
  worker on another machine builds each message without the articles.
- rate_buckets: the token bucket every sender of a site takes from.
- limit_hits: the subscribe requests counted against the web service's limits.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DELIVERY_STATUSES = ("'queued', 'pending', 'sent', 'deferred', 'uncertain', 'gave_up', "
                     "'bounced', 'complained', 'skipped'")


def upgrade() -> None:
    with op.batch_alter_table("deliveries", table_kwargs={"sqlite_with_rowid": False}) as t:
        t.drop_constraint("deliveries_status_valid", type_="check")
        t.add_column(sa.Column("holder", sa.String(64), nullable=True))
        t.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        t.create_check_constraint("deliveries_status_valid",
                                  sa.text(f"status IN ({DELIVERY_STATUSES})"))
    op.create_table(
        "renderings",
        sa.Column("digest_id", sa.String(80), sa.ForeignKey("digests.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_table(
        "rate_buckets",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "limit_hits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("limit_hits_scope_key_at", "limit_hits", ["scope", "key", "at"])
    op.execute("UPDATE store_meta SET value = '3' WHERE key = 'schema_version'")


def downgrade() -> None:
    raise NotImplementedError("a store is never made older: restore a backup instead")
