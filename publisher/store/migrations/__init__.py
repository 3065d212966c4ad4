"""Alembic's numbered migrations of the store (`versions/`), run by `publisher.store.migrate`.

Each file is one revision, frozen once released: it declares the tables as they
were then, never imports `schema.py`, and works on SQLite and PostgreSQL alike.
"""
