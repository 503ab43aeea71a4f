"""Engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg), same code."""

from __future__ import annotations

import logging

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import QueuePool

# aiosqlite logs every statement with its parameters at DEBUG: names, phones, addresses. Never below INFO.
_aiosqlite_log = logging.getLogger("aiosqlite")
_aiosqlite_log.setLevel(max(_aiosqlite_log.level, logging.INFO))


# Every SQLite transaction takes the write lock first (BEGIN IMMEDIATE, below), so the database runs
# one at a time however many connections there are, and more connections only let more transactions
# wait for the lock in SQLite's busy handler instead of in the pool's queue. Each aiosqlite connection
# is a thread with its own page cache, about 2.3 MB once warm, and SQLAlchemy's default pool keeps 5
# and opens up to 15 under a burst. Two: the pipeline's transaction and the outbox dispatcher's (or
# the sweep's) each have one ready, as with the default pool, where bench.memory never used more than
# three (2.5 MB less at its peak with two, the same throughput at 200 and 400 updates a second). Not
# one: at 400 updates a second the dispatcher then delivered 65-158 replies where it delivered
# 540-700, the pipeline's worker taking the connection back each time before the waiting dispatcher
# woke (asyncio.Queue does not hand an item to the waiter it wakes).
SQLITE_POOL_SIZE = 2


def create_engine(url: str, **kwargs) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if "poolclass" not in kwargs and "pool" not in kwargs and \
                issubclass(parsed.get_dialect().get_pool_class(parsed), QueuePool):
            # A database file (an in-memory one has a single connection anyway: StaticPool).
            kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
            kwargs.setdefault("max_overflow", 0)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # We issue BEGIN ourselves (below), so the driver must not.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            # WAL lets the web chat read while the dispatcher writes; foreign keys are off by default.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin_immediate(connection):
            # A transaction that reads and then writes would otherwise fail with SQLITE_BUSY when
            # another writer got in between; taking the write lock up front makes writers queue.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_timeout", 10)
    # A server that stops answering (not refusing) must not hang a citizen's request forever: give up
    # on connecting after 10 s and on a statement after 60 s; the user is then asked to try again.
    kwargs.setdefault("connect_args", {"timeout": 10, "command_timeout": 60})
    return create_async_engine(url, **kwargs)


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)
