"""Digests readers choose as their cadence: each reader's own articles, never one twice.

- digests: `cadence` (the schedule's name when readers may choose it; NULL
  for every other digest, which goes on as before), `cadences` (the
  choosable schedules when it was made: a reader who chose another one is
  not sent it) and `pool` (every article it could hold for anyone, one id a
  line; a reader's own articles are taken from it).
- article_sets: the distinct sets of articles a digest's readers were sent,
  one row per set, not per reader.
- deliveries: `article_set`, the set a reader's message holds, fixed when the
  row is first claimed, so a retry sends the same articles. Still one row per
  digest and reader.

Plain added columns and a new table: an existing store is upgraded in place.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("digests", sa.Column("cadence", sa.String(100), nullable=True))
    op.add_column("digests", sa.Column("cadences", sa.Text, nullable=False, server_default=""))
    op.add_column("digests", sa.Column("pool", sa.Text, nullable=False, server_default=""))
    op.add_column("deliveries", sa.Column("article_set", sa.Integer, nullable=True))
    op.create_table(
        "article_sets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("digest_id", sa.String(80), sa.ForeignKey("digests.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("article_ids", sa.Text, nullable=False),
        sa.Column("shown", sa.Integer, nullable=False),
        sa.UniqueConstraint("digest_id", "key", name="article_sets_digest_key"),
    )
    op.execute("UPDATE store_meta SET value = '5' WHERE key = 'schema_version'")


def downgrade() -> None:
    raise NotImplementedError("a store is never made older: restore a backup instead")
