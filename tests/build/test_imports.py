"""A build loads what building needs: no database driver or store behind the subscribe form."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("publisher.store.database", "sqlalchemy", "psycopg", "premailer", "aiosmtpd")


def test_the_build_does_not_import_the_store_or_the_mail_machinery() -> None:
    probe = ("import sys, publisher.publish, publisher.schedule.files; "
             f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "[]"
