"""The schedule wing: timetables from `schedules/`, their due times, and running what is due.

`files` reads and validates the schedule files, `times` turns cron lines and
intervals into instants (with our own daylight-saving rules), `runs` holds
`run_due` (each due time at most once), and `daemon` is `publisher run`.
"""
