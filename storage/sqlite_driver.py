"""aiosqlite with one trip to its thread per statement.

aiosqlite runs every sqlite3 call on a thread of its own connection, and SQLAlchemy's adapter makes
one call per cursor operation: open a cursor, execute, fetch the rows, close — four trips to the
thread and back, each a queue hand-off, a wake-up of the event loop through its self-pipe and a
switch of the GIL. Those trips, not SQLite, were most of a statement's cost here: a lone submission
(fourteen statements with BEGIN and COMMIT) took 7.7 ms of CPU on SQLite against 4.8 on PostgreSQL
(bench/pipeline.py). This cursor does the four on the thread in one trip and brings back the rows,
``description``, ``rowcount`` and ``lastrowid``; the rest is SQLAlchemy's own aiosqlite dialect.

It uses two private names of aiosqlite's ``Connection``, as SQLAlchemy's adapter itself does:
``_execute`` (run a function on the connection's thread) and ``_conn`` (the sqlite3 connection
there). pyproject.toml holds aiosqlite below its next minor release; tests/test_storage.py runs
every kind of statement through it.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
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
