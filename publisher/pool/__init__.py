"""The pool wing: a queue of chunk jobs that worker processes on any machine take.

The queue engine is procrastinate (its jobs are rows in the same PostgreSQL
database, taken with row locks, so a job survives any worker), and it is used
in one module, `engine`. A job only says which chunk of a digest's readers to
send; the ledger rows, with their leases, remain the unit of truth.
"""
