"""Digests sent at their time in each reader's own zone (schedules marked `local`).

- digests: `zone` (the zone its readers are in; NULL for a digest that is not
  local), `zone_default` (1: readers without a zone belong to it as well) and
  `hour` (the readers' chosen hour; NULL: readers who chose none). A local
  schedule makes one digest per due time and group of readers, so each reader
  is in exactly one of them.

Plain added columns: an existing store is upgraded in place.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("digests", sa.Column("zone", sa.String(64), nullable=True))
    op.add_column("digests", sa.Column("zone_default", sa.Integer, nullable=False,
                                       server_default="0"))
    op.add_column("digests", sa.Column("hour", sa.Integer, nullable=True))
    op.execute("UPDATE store_meta SET value = '6' WHERE key = 'schema_version'")


def downgrade() -> None:
    raise NotImplementedError("a store is never made older: restore a backup instead")
