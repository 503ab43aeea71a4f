"""Storage on both databases: migrations from empty, round trips, dedupe and outbox claims."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, inspect, select, text

from bot.domain.dialog import Button, Conversation, Reply
from storage.db import create_engine, session_factory
from storage.migrate import MigrationFailed, current_revision, upgrade, upgrade_in_child
from storage.models import Item, ItemContact, ItemDeadline, ItemEvent, OutboxMessage, Unit
from storage.uow import UnitOfWorkFactory
from tests.conftest import POSTGRES_ADMIN, _admin

EXPECTED_TABLES = {
    "units", "users", "channel_identities", "consents", "conversations", "routing_rules", "items",
    "item_contacts", "item_deadlines", "item_events", "reception_sessions", "disclosures", "projects",
    "project_updates", "consultations", "consultation_votes", "subscriptions", "outbox", "processed_updates",
}


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_migrations_upgrade_an_empty_sqlite_database(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    engine = create_engine(url)
    await upgrade(engine)
    assert await current_revision(engine) is not None
    await upgrade(engine)  # a second upgrade is a no-op
    await engine.dispose()
    assert EXPECTED_TABLES <= await _tables(url)


async def test_migrations_upgrade_an_empty_postgresql_database(postgres_database):
    name = f"tiepdan_empty_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"
    try:
        engine = create_engine(url)
        await upgrade(engine)
        assert await current_revision(engine) is not None
        await engine.dispose()
        assert EXPECTED_TABLES <= await _tables(url)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_serve_migrates_in_a_child_process_and_reports_a_failure_in_one_line(tmp_path):
    """``serve`` migrates with ``upgrade_in_child`` so that Alembic never loads into the server."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'child.db'}"
    revision = await upgrade_in_child(url)
    engine = create_engine(url)
    try:
        assert revision is not None and revision == await current_revision(engine)
    finally:
        await engine.dispose()
    assert EXPECTED_TABLES <= await _tables(url)
    assert await upgrade_in_child(url) == revision  # a second upgrade is a no-op

    clashing = tmp_path / "clashing.db"  # a table of the first migration already there
    engine = create_engine(f"sqlite+aiosqlite:///{clashing}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE users (x INTEGER)"))
    await engine.dispose()
    with pytest.raises(MigrationFailed) as failed:
        await upgrade_in_child(f"sqlite+aiosqlite:///{clashing}")
    assert str(failed.value).startswith("OperationalError: ") and "users already exists" in str(failed.value)
    assert "\n" not in str(failed.value)


def test_a_migration_does_not_outlive_a_server_killed_while_starting(tmp_path):
    """The child migrating for serve exits when its parent dies (a migration running in the server
    itself died with it), so a restarted server never meets a migration still under way."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time
    from pathlib import Path

    database = tmp_path / "locked.db"
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")  # the child waits for the write lock: still migrating when killed
    root = Path(__file__).resolve().parents[1]
    code = ("import asyncio, sys; from storage.migrate import upgrade_in_child; "
            "asyncio.run(upgrade_in_child(sys.argv[1]))")
    parent = subprocess.Popen([sys.executable, "-c", code, f"sqlite+aiosqlite:///{database}"], cwd=root,
                              env={**os.environ, "PYTHONPATH": str(root)})
    try:
        children: list[str] = []
        deadline = time.monotonic() + 30
        while not children and time.monotonic() < deadline:
            time.sleep(0.1)
            found = subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True, text=True)
            children = found.stdout.split()
        assert children, "the migration child did not start"
        time.sleep(1.0)  # under way, waiting for the lock
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()

        def alive(pid: str) -> bool:
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
            except FileNotFoundError:
                return False

        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in children)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        holder.close()


def test_a_sqlite_file_gets_a_pool_of_two_connections_and_memory_one_connection():
    """SQLite runs one transaction at a time (BEGIN IMMEDIATE); each aiosqlite connection is a thread
    and a page cache of its own (storage.db.SQLITE_POOL_SIZE)."""
    from storage.db import SQLITE_POOL_SIZE

    engine = create_engine("sqlite+aiosqlite:///./never-opened.db")
    assert SQLITE_POOL_SIZE == 2
    assert engine.sync_engine.pool.size() == 2 and engine.sync_engine.pool._max_overflow == 0
    assert type(create_engine("sqlite+aiosqlite://").sync_engine.pool).__name__ == "StaticPool"
    bigger = create_engine("sqlite+aiosqlite:///./never-opened.db", pool_size=5)
    assert bigger.sync_engine.pool.size() == 5  # a caller's own setting wins


async def test_a_sqlite_statement_is_one_trip_to_aiosqlites_thread_and_behaves_as_before(tmp_path, monkeypatch):
    """storage.sqlite_driver: each statement (reads, executemany, RETURNING, rowcount, lastrowid, a
    broken constraint, BEGIN and COMMIT) goes to the connection's thread once, with the same results
    and the same exceptions as SQLAlchemy's own aiosqlite adapter."""
    import aiosqlite
    from sqlalchemy.exc import IntegrityError

    from storage.sqlite_driver import OneTripCursor

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'trips.db'}")
    trips = []
    real_execute = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await real_execute(self, fn, *args, **kwargs)

    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INT)")
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            assert isinstance(raw.driver_connection, aiosqlite.Connection)
            assert isinstance(raw.dbapi_connection.cursor(), OneTripCursor)
            trips.clear()
            await connection.execute(text("INSERT INTO t (name, n) VALUES (:name, :n)"),
                                     [{"name": f"p{i}", "n": i} for i in range(5)])  # executemany
            assert trips == ["_run", "_run"]  # BEGIN IMMEDIATE, then the five rows in one trip
            inserted = await connection.execute(text("INSERT INTO t (name, n) VALUES ('q', 9)"))
            assert inserted.lastrowid == 6
            returned = await connection.execute(text("INSERT INTO t (name, n) VALUES ('r', 10) RETURNING id, n"))
            assert returned.all() == [(7, 10)]
            changed = await connection.execute(text("UPDATE t SET n = n + 1 WHERE n < 3"))
            assert changed.rowcount == 3
            rows = await connection.execute(text("SELECT name, n FROM t WHERE n <= :most ORDER BY id"), {"most": 3})
            assert rows.keys() == ["name", "n"] and rows.all() == [("p0", 1), ("p1", 2), ("p2", 3), ("p3", 3)]
            assert (await connection.execute(text("SELECT name FROM t WHERE n < 0"))).all() == []
            with pytest.raises(IntegrityError):
                await connection.execute(text("INSERT INTO t (name, n) VALUES ('q', 1)"))
            await connection.commit()
        # BEGIN and seven statements, one trip each; the pool's reset as the connection goes back.
        assert trips == ["_run"] * 8 + ["commit", "rollback"]
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar_one() == 7
    finally:
        await engine.dispose()


async def test_a_postgresql_connection_is_pinged_only_after_sitting_idle_and_replaced_if_it_died(
        postgres_database, monkeypatch):
    """No ping for a connection used a moment ago (three round trips on asyncpg); one that sat in the
    pool longer than ``ping_idle_after`` is pinged, and if the server dropped it meanwhile a new
    one takes its place without the caller seeing an error."""
    engine = create_engine(postgres_database, ping_idle_after=0.2)
    pings = []
    real_ping = engine.sync_engine.dialect.do_ping
    monkeypatch.setattr(engine.sync_engine.dialect, "do_ping", lambda dbapi: pings.append(1) or real_ping(dbapi))

    async def backend() -> int:
        async with engine.connect() as connection:
            return (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()

    admin = create_engine(POSTGRES_ADMIN)
    try:
        first = await backend()
        assert await backend() == first and pings == []  # back to work at once: no ping
        await asyncio.sleep(0.3)
        assert await backend() == first and len(pings) == 1  # idle: pinged, alive, kept
        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await asyncio.sleep(0.3)
        replaced = await backend()  # the dead one failed its ping and was replaced: no error
        assert replaced != first and len(pings) == 2
    finally:
        await engine.dispose()
        await admin.dispose()


@pytest.fixture
async def uows(db_url):
    engine = create_engine(db_url)
    yield UnitOfWorkFactory(session_factory(engine))
    await engine.dispose()


async def test_item_with_contact_deadlines_and_events_round_trips(uows):
    received = datetime(2026, 2, 13, 9, 30, tzinfo=timezone.utc)
    async with uows() as uow:
        unit = Unit(commune_code=70, name="Văn phòng HĐND và UBND phường", is_fallback=True)
        uow.units.add(unit)
        await uow.units.flush()
        item = Item(tracking_code="TD-TEST-0001", kind="complaint_first", category="land", commune_code=70,
                    unit_id=unit.id, channel="web", chat_id="c1", status="received",
                    description="Khiếu nại quyết định thu hồi đất", photos=["file-1"], latitude=21.03,
                    longitude=105.85, received_at=received)
        uow.items.add(item)
        await uow.items.flush()
        uow.items.add_contact(ItemContact(item_id=item.id, full_name="Nguyễn Văn A", address="Hàng Bạc",
                                        phone="0912345678"))
        uow.items.add_deadline(ItemDeadline(item_id=item.id, phase="intake", due_on=date(2026, 2, 26),
                                            rule_id="complaint.intake.2011", citation="Luật Khiếu nại 2011, Điều 27"))
        uow.items.record(ItemEvent(item_id=item.id, action="submit", to_status="received"))
        await uow.commit()
        item_id = item.id
    async with uows() as uow:
        item = await uow.items.by_tracking_code("TD-TEST-0001")
        assert item.id == item_id and item.description == "Khiếu nại quyết định thu hồi đất"
        assert item.received_at.astimezone(timezone.utc) == received
        assert item.photos == ["file-1"]
        contact = await uow.items.contact(item_id)
        assert contact.full_name == "Nguyễn Văn A"
        deadlines = await uow.items.open_deadlines(item_id)
        assert [(d.phase, d.due_on) for d in deadlines] == [("intake", date(2026, 2, 26))]
        assert [e.action for e in await uow.items.events(item_id)] == ["submit"]


async def test_conversation_state_round_trips_per_channel_and_chat(uows):
    async with uows() as uow:
        user = await uow.users.get_or_create("telegram", "42", "42", language="vi")
        await uow.conversations.save_many("telegram", [
            ("42", user.id, Conversation("start", "commune_pick", {"found": [70, 71]}, ["commune:70"]))])
        await uow.commit()
    async with uows() as uow:
        row = await uow.conversations.load("telegram", "42")
        assert (row.flow, row.step, row.data, row.expected_buttons) == (
            "start", "commune_pick", {"found": [70, 71]}, ["commune:70"])
        assert await uow.conversations.load("web", "42") is None
        same = await uow.users.get_or_create("telegram", "42", "42", language="en")
        assert same.id == user.id and same.language == "vi"


async def test_a_delivery_is_recorded_once_and_rolled_back_with_its_transaction(uows):
    async with uows() as uow:
        assert await uow.inbound.first_delivery("telegram", "1001") is True
        await uow.rollback()
    async with uows() as uow:
        assert await uow.inbound.first_delivery("telegram", "1001") is True
        await uow.commit()
    async with uows() as uow:
        assert await uow.inbound.first_delivery("telegram", "1001") is False
        assert await uow.inbound.first_delivery("web", "1001") is True


async def test_new_users_get_ids_in_order_and_sqlite_inserts_them_with_one_statement_a_table(uows):
    """storage.sqlite_driver.NumberingSession: on SQLite several new rows of one table are numbered
    before the flush (max(id) + 1 on, as SQLite would), so the ORM writes them with one executemany
    instead of one INSERT ... RETURNING each; PostgreSQL keeps its own sequence. Ids never reused
    (the outbox's AUTOINCREMENT) are not handed out this way."""
    from storage.models import ChannelIdentity, User
    from storage.sqlite_driver import _numbered_table

    engine = uows.sessions.kw["bind"].sync_engine
    inserts: list[tuple[str, bool]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO"):
            inserts.append((statement.split()[2], executemany))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        async with uows() as uow:
            [first] = (await uow.users.get_or_create_many("telegram", [("n-0", "n-0", "vi")])).values()
            await uow.commit()
        people = [(f"n-{n}", f"chat-{n}", "en" if n % 2 else "vi") for n in range(1, 6)]
        inserts.clear()
        async with uows() as uow:
            users = await uow.users.get_or_create_many("telegram", people)
            await uow.commit()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    ids = [users[external_id].id for external_id, _, _ in people]
    assert ids == sorted(ids) and len(set(ids)) == 5 and ids[0] > first.id
    if engine.dialect.name == "sqlite":
        assert ids == list(range(first.id + 1, first.id + 6))
        assert inserts == [("users", True), ("channel_identities", True)]
    async with uows() as uow:
        stored = (await uow.session.execute(select(ChannelIdentity.external_id, ChannelIdentity.last_chat_id, User.id,
                                                   User.language).join(User))).all()
    assert sorted(stored)[1:] == sorted((e, c, users[e].id, language) for e, c, language in people)
    assert _numbered_table(User) is User.__table__ and _numbered_table(OutboxMessage) is None


async def test_outbox_enqueue_is_idempotent_and_claims_respect_leases(uows):
    reply = Reply("Xin chào", ((Button("Tiếng Việt", "lang:vi"),),))
    async with uows() as uow:
        await uow.outbox.enqueue("telegram", "7", reply, "k1")
        await uow.outbox.enqueue("telegram", "7", reply, "k1")
        await uow.outbox.enqueue("telegram", "7", Reply("Hai"), "k2")
        await uow.commit()
    async with uows() as uow:
        claimed = await uow.outbox.claim_due(10, timedelta(seconds=60), ["telegram"])
        assert [Reply.from_payload(r.payload).text for r in claimed] == ["Xin chào", "Hai"]
        assert Reply.from_payload(claimed[0].payload) == reply
        await uow.commit()
    async with uows() as uow:
        assert await uow.outbox.claim_due(10, timedelta(seconds=60), ["telegram"]) == []
        await uow.session.execute(text("UPDATE outbox SET next_attempt_at = :t"),
                                  {"t": datetime.now(timezone.utc) - timedelta(seconds=1)})
        await uow.commit()
    async with uows() as uow:
        # The lease ran out (the claiming process died): the rows are due again.
        again = await uow.outbox.claim_due(10, timedelta(seconds=60), ["telegram"])
        assert len(again) == 2 and all(r.attempts == 2 for r in again)
        await uow.outbox.mark_sent(again[0].id)
        await uow.commit()
    async with uows() as uow:
        statuses = (await uow.session.execute(select(OutboxMessage.status).order_by(OutboxMessage.id))).scalars()
        assert list(statuses) == ["sent", "sending"]


async def test_two_dispatchers_never_claim_the_same_row_on_postgresql(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises writers")
    engine = create_engine(db_url)
    uows = UnitOfWorkFactory(session_factory(engine))
    async with uows() as uow:
        for n in range(40):
            await uow.outbox.enqueue("telegram", str(n % 5), Reply(f"m{n}"), f"k{n}")
        await uow.commit()

    async def claim() -> list[int]:
        async with uows() as uow:
            rows = await uow.outbox.claim_due(25, timedelta(seconds=60), ["telegram"])
            await asyncio.sleep(0.05)  # hold the row locks while the other claims
            ids = [r.id for r in rows]
            await uow.commit()
            return ids

    first, second = await asyncio.gather(claim(), claim())
    await engine.dispose()
    assert not set(first) & set(second)
    assert len(first) + len(second) == 40


async def test_outbox_ids_are_never_reused_after_a_chats_history_is_erased(uows):
    """The web chat reads its messages by id; a reused id would hide a new message behind a cursor."""
    from sqlalchemy import delete

    async with uows() as uow:
        for n in range(3):
            await uow.outbox.enqueue("web", "c", Reply(f"m{n}"), f"history-{n}")
        await uow.commit()
    async with uows() as uow:
        highest = max(r.id for r in await uow.outbox.for_chat("web", "c", 0))
        await uow.session.execute(delete(OutboxMessage))
        await uow.outbox.enqueue("web", "c", Reply("after the erase"), "after")
        await uow.commit()
    async with uows() as uow:
        assert [r.payload["text"] for r in await uow.outbox.for_chat("web", "c", highest)] == ["after the erase"]


async def test_erasing_a_zalo_users_data_forgets_the_unfollow_and_the_messages_zalo_held(uows):
    from sqlalchemy import update

    from bot.privacy import erase_personal_data
    from storage.models import ChannelIdentity, User, ZaloUnfollow

    async with uows() as uow:
        user = User(language="vi", commune_code=70)
        uow.session.add(user)
        await uow.session.flush()
        uow.session.add(ChannelIdentity(channel="zalo", external_id="zu-42", user_id=user.id, last_chat_id="zu-42"))
        uow.session.add(ZaloUnfollow(user_id="zu-42"))
        for n, status in enumerate(("sent", "held", "failed", "pending")):
            await uow.outbox.enqueue("zalo", "zu-42", Reply(f"m{n}"), f"z-{n}")
            await uow.session.execute(update(OutboxMessage).where(OutboxMessage.dedupe_key == f"z-{n}")
                                      .values(status=status))
        await uow.commit()
    async with uows() as uow:
        await erase_personal_data(uow, await uow.session.get(User, user.id))
        await uow.commit()
    async with uows() as uow:
        left = (await uow.session.execute(select(OutboxMessage.status))).scalars().all()
        assert left == ["pending"]  # on its way (the answer to /privacy is one such): still delivered
        assert (await uow.session.execute(select(ZaloUnfollow))).scalars().all() == []
