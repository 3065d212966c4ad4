"""What each reader chose on the preference page: a cadence, a time zone and an hour.

- subscribers: `cadence` (the name of a digest schedule the operator offers as
  a choice; NULL = every digest, as before), `timezone` (an IANA name; NULL =
  the site's) and `hour` (0-23, the local hour a local schedule sends at; NULL
  = the schedule's own time). Topics stay in `tags`. Existing readers keep
  NULL everywhere, so nothing they receive changes.

Plain added columns: no table is rebuilt, and an existing SQLite store is
upgraded in place.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subscribers", sa.Column("cadence", sa.String(100), nullable=True))
    op.add_column("subscribers", sa.Column("timezone", sa.String(64), nullable=True))
    op.add_column("subscribers", sa.Column("hour", sa.Integer, nullable=True))
    op.execute("UPDATE store_meta SET value = '4' WHERE key = 'schema_version'")


def downgrade() -> None:
    raise NotImplementedError("a store is never made older: restore a backup instead")
