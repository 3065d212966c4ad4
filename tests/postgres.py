"""A PostgreSQL database of its own for one test: a schema made for it and dropped after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text

PG_ENV = "PUBLISHER_TEST_POSTGRES_URL"
NEEDS_POSTGRES = pytest.mark.skipif(
    not os.environ.get(PG_ENV),
    reason=f"PostgreSQL tests need {PG_ENV}, e.g. "
    "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def postgres_url() -> Iterator[str]:
    """A URL whose tables land in a schema made for one test and dropped after it."""
    base = os.environ[PG_ENV]
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield make_url(base).update_query_dict(
            {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
