"""A build loads what building needs: no database driver or store behind the subscribe form,
no mail client, no scheduler, no address checker (every module costs every build its import)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("publisher.store.database", "sqlalchemy", "psycopg", "premailer", "aiosmtpd",
         "imaplib", "apscheduler", "email_validator", "urllib.request")


def test_the_build_imports_neither_the_store_nor_the_mail_and_schedule_machinery() -> None:
    probe = ("import sys, publisher.publish, publisher.schedule.files; "
             f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "[]"
