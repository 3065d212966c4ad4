"""The store wing: subscribers, digests, the delivery ledger and schedule state in a database.

`Store` (in `database`) holds the queries; `engine` opens and tunes the
connection, `schema` declares the tables, `ledger` compiles the per-message
statements, `records` holds the values the store hands out.
"""

from publisher.store.database import Store
from publisher.store.records import Delivery, DigestRecord, NewSubscriber, ScheduleState

__all__ = ["Delivery", "DigestRecord", "NewSubscriber", "ScheduleState", "Store"]
