"""Engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg), same code."""

from __future__ import annotations

import logging
import time

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import QueuePool

from storage import sqlite_driver

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
        if parsed.get_driver_name() == "aiosqlite":
            kwargs.setdefault("module", sqlite_driver.dbapi())  # one trip to its thread a statement
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
    kwargs.setdefault("pool_timeout", 10)
    # A server that stops answering (not refusing) must not hang a citizen's request forever: give up
    # on connecting after 10 s and on a statement after 60 s; the user is then asked to try again.
    kwargs.setdefault("connect_args", {"timeout": 10, "command_timeout": 60})
    ping_idle = kwargs.pop("ping_idle_after", PING_IDLE_AFTER)
    engine = create_async_engine(url, **kwargs)
    if ping_idle is not None and not kwargs.get("pool_pre_ping"):
        _ping_after_idle(engine, ping_idle)
    return engine


# A connection that sat in the pool longer than this is pinged before use. SQLAlchemy's pool_pre_ping
# pings at every checkout, and on asyncpg a ping is three round trips (BEGIN, an empty statement,
# ROLLBACK): under load, a transaction every few milliseconds paid them again on a connection it had
# used a moment before (bench/pipeline.py). A connection in steady use needs no ping: if the server
# went away meanwhile, the statement fails like any statement would, the adapter asks the person to
# try again, and SQLAlchemy then drops every connection older than the failure from the pool.
PING_IDLE_AFTER = 2.0  # seconds


def _ping_after_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(dbapi_connection, record) -> None:
        record.info["tiepdan_idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection, record, proxy) -> None:
        since = record.info.pop("tiepdan_idle_since", None)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # a new connection, or one used a moment ago
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001 - any failure means this connection is gone
            raise exc.DisconnectionError(f"idle connection failed its ping: {type(error).__name__}") from error
        if not alive:
            raise exc.DisconnectionError("idle connection failed its ping")


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    if engine.dialect.name == "sqlite":  # new rows numbered before a flush: one insert a table
        return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=sqlite_driver.NumberingSession)
    return async_sessionmaker(engine, expire_on_commit=False)
