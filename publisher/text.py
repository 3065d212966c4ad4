"""Dates as readers see them, the same in pages and in email, whatever the machine's locale."""

from __future__ import annotations

from datetime import datetime, tzinfo

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def long_date(moment: datetime, zone: tzinfo) -> str:
    """"2 November 2026": the day as it was in `zone` (the site's timezone)."""
    local = moment.astimezone(zone)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"
