"""SQLite made cheaper per statement: one trip to aiosqlite's thread each, and fewer statements.

aiosqlite runs every sqlite3 call on a thread of its own connection, and SQLAlchemy's adapter makes
one call per cursor operation: open a cursor, execute, fetch the rows, close — four trips to the
thread and back, each a queue hand-off, a wake-up of the event loop through its self-pipe and a
switch of the GIL. Those trips, not SQLite, were most of a statement's cost here: a lone submission
(fourteen statements with BEGIN and COMMIT) took 7.7 ms of CPU on SQLite against 4.8 on PostgreSQL,
while SQLite itself spent a few microseconds a statement (bench/pipeline.py). ``OneTripCursor`` does
the four on the thread in one trip and brings back the rows, ``description``, ``rowcount`` and
``lastrowid``; the rest is SQLAlchemy's own aiosqlite dialect. It uses two private names of
aiosqlite's ``Connection``, as SQLAlchemy's adapter itself does: ``_execute`` (run a function on the
connection's thread) and ``_conn`` (the sqlite3 connection there); pyproject.toml holds aiosqlite
below its next minor release, and tests/test_storage.py runs every kind of statement through it.

``NumberingSession`` (below) gives new rows their ids before a flush, so that the ORM writes several
new rows of a table with one statement.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy import Integer, event, func, inspect, select
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.orm import Session
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_


class _Ran:
    """What a statement left behind on the thread: read by SQLAlchemy as its driver cursor."""

    __slots__ = ("description", "rowcount", "lastrowid", "rows")
    arraysize = 1

    def __init__(self, description=None, rowcount: int = -1, lastrowid: int | None = None, rows=()):
        self.description, self.rowcount, self.lastrowid, self.rows = description, rowcount, lastrowid, rows

    def close(self) -> None:
        """The sqlite3 cursor was closed on the thread already."""


_NOTHING_YET = _Ran()


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Ran:
    """On aiosqlite's thread: the whole life of one cursor."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else ()
        return _Ran(description, cursor.rowcount, cursor.lastrowid, rows)
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()
    _awaitable_cursor_close = False  # nothing is left open on the thread

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection):
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _NOTHING_YET
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._trip(operation, parameters, False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        self._trip(operation, seq_of_parameters, True)

    def _trip(self, operation: Any, parameters: Any, many: bool) -> None:
        connection = self._connection
        try:
            ran = await_(connection._execute(_run, connection._conn, operation, parameters, many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._cursor = ran
        self._rows = collections.deque(ran.rows)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite DB-API adapter, handing out ``OneTripConnection``s."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def dbapi() -> OneTripDBAPI:
    """The module to give ``create_async_engine(..., module=...)`` for a ``sqlite+aiosqlite`` URL."""
    return OneTripDBAPI(aiosqlite, sqlite3)


# --- ids for new rows, so that the ORM inserts them with one statement ------------------------------
#
# Without RETURNING rows it can match to its objects, the ORM inserts new rows one statement at a
# time on SQLite (SQLite has no sentinel for ``insertmanyvalues``), to read each new id back: a group
# commit's 62 new users were 124 statements (users and identities), its 62 submissions 62 item
# inserts (bench/pipeline.py). Given ids, the ORM writes each table with one executemany. SQLite hands
# out max(id) + 1 for an INTEGER PRIMARY KEY without AUTOINCREMENT, which is what this does, and
# every transaction holds the write lock from its start (BEGIN IMMEDIATE, storage/db.py), so nobody
# can take the same id in between. Tables with AUTOINCREMENT (ids never reused) are left alone.

class NumberingSession(Session):
    """The sync session of an SQLite unit of work (``async_sessionmaker(sync_session_class=...)``)."""


@event.listens_for(NumberingSession, "before_flush")
def _number_new_rows(session: Session, flush_context, instances) -> None:
    pending: dict[Any, list[Any]] = {}
    for obj in session.new:
        table = _numbered_table(type(obj))
        if table is not None and obj.id is None:
            pending.setdefault(table, []).append(obj)
    pending = {table: objs for table, objs in pending.items() if len(objs) > 1}  # one row: one statement anyway
    if not pending:
        return
    tables = list(pending)
    connection = session.connection()
    highest = connection.execute(select(*[select(func.max(table.c.id)).scalar_subquery() for table in tables])).one()
    for table, top in zip(tables, highest):
        # In the order they were added, as the ORM would insert them.
        for number, obj in enumerate(sorted(pending[table], key=_added_order), start=(top or 0) + 1):
            obj.id = number


def _added_order(obj) -> int:
    return inspect(obj).insert_order or 0


_NUMBERED: dict[type, Any] = {}


def _numbered_table(cls: type):
    """The table of a mapped class whose ids this may hand out, or None."""
    if cls not in _NUMBERED:
        mapper = inspect(cls)
        table = mapper.local_table
        key = mapper.primary_key[0] if len(mapper.primary_key) == 1 else None
        _NUMBERED[cls] = table if (
            key is not None and key.name == "id" and isinstance(key.type, Integer) and mapper.inherits is None
            and not table.dialect_options["sqlite"].get("autoincrement")) else None
    return _NUMBERED[cls]
