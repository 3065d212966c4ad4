"""Named locks that every process using the store shares, on one machine or many.

On PostgreSQL a lock is a session-level advisory lock, held on a connection of
its own: it is released when the holder lets go, or when its session ends,
which the server notices within half a minute even if the holder's machine
vanishes (the session's TCP keepalives are set short). On SQLite, whose file
lives on one machine's disk, it is a file lock beside the database, released by
the kernel when the holder dies. Either way a crashed holder never leaves a
lock that a person must remove by hand.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from publisher.lock import LockBusy, file_lock

__all__ = ["Held", "LockBusy", "hold"]

# The server gives up on a silent holder after idle + interval × count seconds.
_KEEPALIVE = ("SET tcp_keepalives_idle = 10", "SET tcp_keepalives_interval = 5",
              "SET tcp_keepalives_count = 3")


class Held:
    """A lock being held; `alive()` says whether it still is (a session can be lost)."""

    def __init__(self, conn: Connection | None = None) -> None:
        self._conn = conn

    def alive(self) -> bool:
        if self._conn is None:
            return True  # a file lock lasts as long as this process
        try:
            self._conn.exec_driver_sql("SELECT 1").scalar()
            self._conn.commit()
            return True
        except DBAPIError:
            return False


def lock_key(name: str) -> int:
    """A lock name as the signed 64-bit number PostgreSQL's advisory locks take."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big",
                          signed=True)


@contextmanager
def hold(engine: Engine, name: str, *, wait: bool = False, shared: bool = False
         ) -> Iterator[Held]:
    """Hold the lock `name` for the `with` block; `LockBusy` if another holds it and not `wait`.

    A `shared` lock is held alongside other shared holders and keeps out an exclusive one.
    """
    if engine.dialect.name != "postgresql":
        with file_lock(_lock_file(engine, name), wait=wait, shared=shared):
            yield Held()
        return
    conn = engine.connect()
    try:
        for statement in _KEEPALIVE:
            conn.exec_driver_sql(statement)
        call = ("pg_advisory_lock" if wait else "pg_try_advisory_lock") + \
            ("_shared" if shared else "")
        got = conn.execute(text(f"SELECT {call}(:key)"), {"key": lock_key(name)}).scalar()
        conn.commit()  # the lock belongs to the session, not to a transaction
        if got is False:
            raise LockBusy(name)
        yield Held(conn)
    finally:
        conn.invalidate()  # the session ends, and every lock it held with it
        conn.close()


def _lock_file(engine: Engine, name: str) -> Path:
    database = engine.url.database or "memory"
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return Path(f"{database}-locks") / f"{safe}.lock"
