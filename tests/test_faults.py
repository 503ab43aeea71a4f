"""Faults from outside: the database going away and coming back, a Bot API that fails in every way
Telegram's does, a full disk, and uploads too large to take.

Already covered elsewhere and not repeated: a database that cannot be reached at all from the first
message (tests/test_telegram.py, tests/test_webchat_api.py), Bot API 500s with growing back-off,
429 with retry_after, 403 (blocked) and giving up after the configured attempts
(tests/test_telegram.py), an oversized photo announced by its Content-Length
(tests/test_webchat_media.py). Crashes of our own process are in tests/test_crash.py.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import re
from collections import defaultdict
from datetime import timedelta

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url
from telegram import Update
from telegram.error import TimedOut

from bot.app import Runtime
from bot.settings import Settings
from bot.domain.dialog import Reply
from bot.texts import t
from storage.demo import seed_demo
from storage.models import Attachment, OutboxMessage, utcnow
from tests.conftest import _empty_postgres
from tests.telegram_fake import RecordingBotAPI, button_update, text_update
from tests.webchat import Browser, describe, reach_menu, same_origin

TOKEN = "123:ABC"
TRY_AGAIN = t("vi", "error.temporary")
MENU = t("vi", "menu.title")


async def wait_for(condition, seconds: float = 10.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


# -- the database goes away for a while ---------------------------------------------------------------

class CuttableProxy:
    """A TCP proxy in front of PostgreSQL. ``cut()`` drops every open connection and stops listening
    (what a database restart or a dead link looks like to the app); ``restore()`` listens again."""

    def __init__(self, host: str, port: int):
        self.host, self.target_port = host, port
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._links: set[asyncio.Transport] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        links = {writer.transport, upstream_writer.transport}
        self._links |= links
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))
        self._links -= links

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()

    async def cut(self) -> None:
        self._server.close()
        await self._server.wait_closed()
        for transport in list(self._links):
            transport.abort()

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.cut()


@pytest.fixture
def pg_url(postgres_database) -> str:
    asyncio.run(_empty_postgres(postgres_database))
    return postgres_database


async def test_postgresql_going_away_and_coming_back(pg_url, monkeypatch, caplog):
    """While the link is cut: the citizen is asked to send again (Telegram and web chat), nothing
    crashes. After it is restored, with nobody restarting anything: the reply committed before the
    outage is delivered, the dispatcher and the sweep work again, and the citizen carries on."""
    import scheduler.jobs

    url = make_url(pg_url)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    sweeps = {"ok": 0, "failed": 0}
    real_sweep = scheduler.jobs.sweep

    async def counted_sweep(*args, **kwargs):
        try:
            report = await real_sweep(*args, **kwargs)
        except Exception:
            sweeps["failed"] += 1
            raise
        sweeps["ok"] += 1
        return report

    monkeypatch.setattr(scheduler.jobs, "sweep", counted_sweep)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    tg = Settings(database_url=proxied, telegram_token=TOKEN, telegram_per_chat_rate=1000.0, sweep_interval_seconds=1,
                  flood_burst=100_000, flood_rate=10_000, _env_file=None)
    api = RecordingBotAPI()
    runtime = Runtime(tg, telegram_request=api, telegram_get_updates_request=api)
    application = runtime.telegram.application
    errors: list[BaseException] = []

    async def record(update, context):
        errors.append(context.error)

    application.add_error_handler(record)
    await seed_demo(runtime.uows, tg)
    await application.initialize()
    runtime.dispatcher.start()
    runtime.scheduler.start()
    chat, ids = 5551001, itertools.count(1)

    async def feed(update: dict) -> None:
        await application.process_update(Update.de_json(update, application.bot))

    async def told(expected: str, after: int = 0) -> bool:
        return expected in api.sent_texts(chat)[after:]

    caplog.set_level(logging.WARNING)
    try:
        async with TestClient(TestServer(runtime.web_app)) as client:
            tab = Browser(client)
            await reach_menu(tab)
            for update in (text_update(next(ids), chat, "/start"), button_update(next(ids), chat, "lang:vi"),
                           text_update(next(ids), chat, "hoan kiem"), button_update(next(ids), chat, "commune:70")):
                await feed(update)
            await wait_for(lambda: told(MENU), what="the menu")
            await wait_for(lambda: _sweeps_ran(sweeps), what="a sweep")

            # A reply committed just before the outage, whose first send fails: it is due again mid-outage.
            api.fail_next("sendMessage", status=500)
            await feed(button_update(next(ids), chat, "menu:schedule"))
            await wait_for(lambda: _retry_recorded(runtime), what="the failed send recorded for a retry")
            await proxy.cut()

            before = len(api.sent_texts(chat))
            await feed(button_update(next(ids), chat, "g:menu"))
            assert api.sent_texts(chat)[before:] == [TRY_AGAIN]
            response = await client.post("/api/chat/send", json={"id": "during-outage", "text": "/menu"})
            assert response.status == 503 and (await response.json())["error"] == TRY_AGAIN
            response = await client.get("/api/chat/messages", params={"after": 0})
            assert response.status == 503
            failed_sweeps = sweeps["failed"]
            await asyncio.sleep(2.5)  # the dispatcher and the sweep try, and fail, a few times
            assert sweeps["failed"] > failed_sweeps
            assert not runtime.dispatcher._task.done()
            assert runtime.scheduler.running

            await proxy.restore()
            schedule_title = "📅 Lịch tiếp công dân"
            await wait_for(lambda: _sent_starting(api, chat, schedule_title), 15,
                           what="the reply committed before the outage")
            ok_sweeps = sweeps["ok"]
            await wait_for(lambda: _more(sweeps, ok_sweeps), 10, what="a sweep after the outage")
            after = len(api.sent_texts(chat))
            await feed(button_update(next(ids), chat, "g:menu"))
            await wait_for(lambda: told(MENU, after), what="the menu after the outage")
            assert (await tab.send("/menu", message_id="during-outage"))[-1]["text"] == MENU  # sent again
    finally:
        runtime.scheduler.shutdown(wait=False)
        await runtime.dispatcher.stop()
        await application.shutdown()
        await runtime.engine.dispose()
        await proxy.close()

    assert errors == []  # nothing reached python-telegram-bot's error handler
    # The only errors logged are the dispatcher's and the scheduler's "failed, will retry" lines.
    unexpected = [r for r in caplog.records if r.levelno >= logging.ERROR
                  and r.name not in ("scheduler.outbox", "apscheduler.executors.default")]
    assert unexpected == [], [r.getMessage() for r in unexpected]
    schedule_sends = [text_ for text_ in api.sent_texts(chat) if text_.startswith("📅 Lịch tiếp công dân")]
    assert len(schedule_sends) == 1  # delivered once, not lost and not doubled


async def _sweeps_ran(sweeps) -> bool:
    return sweeps["ok"] > 0


async def _more(sweeps, than: int) -> bool:
    return sweeps["ok"] > than


async def _retry_recorded(runtime) -> bool:
    async with runtime.uows() as uow:
        return (await uow.session.execute(select(OutboxMessage.id).where(
            OutboxMessage.status == "pending", OutboxMessage.attempts == 1))).first() is not None


async def _sent_starting(api: RecordingBotAPI, chat: int, prefix: str) -> bool:
    return any(text_.startswith(prefix) for text_ in api.sent_texts(chat))


# -- the Bot API fails in every way it can --------------------------------------------------------------

class UnreliableBotAPI(RecordingBotAPI):
    """sendMessage fails as scripted: ``"timeout"`` (no answer in time; nothing delivered),
    ``"502"`` (a proxy's HTML error page), or a status with Telegram's JSON error body."""

    def __init__(self, plan: list[str | None]):
        super().__init__()
        self.plan = list(plan)

    async def do_request(self, url, method, request_data=None, **timeouts):
        if url.endswith("/sendMessage") and self.plan:
            fault = self.plan.pop(0)
            if fault == "timeout":
                self.calls.append(("sendMessage", dict(request_data.parameters)))
                self._failed_at.add(len(self.calls) - 1)
                raise TimedOut("Timed out")
            if fault == "502":
                self.calls.append(("sendMessage", dict(request_data.parameters)))
                self._failed_at.add(len(self.calls) - 1)
                return 502, b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            if fault is not None:
                status, retry_after = (429, int(fault[4:])) if fault.startswith("429:") else (int(fault), None)
                self.fail_next("sendMessage", status=status, retry_after=retry_after)
        return await super().do_request(url, method, request_data, **timeouts)


@pytest.fixture
async def unreliable(settings):
    """A Telegram-enabled runtime on the test's database whose Bot API follows ``runtime.api.plan``."""
    tg = settings.model_copy(update={"telegram_token": TOKEN, "telegram_per_chat_rate": 1000.0})
    api = UnreliableBotAPI([])
    runtime = Runtime(tg, telegram_request=api, telegram_get_updates_request=api, run_scheduler=False)
    runtime.api = api
    await runtime.telegram.application.initialize()
    yield runtime
    await runtime.telegram.application.shutdown()
    await runtime.engine.dispose()


async def _outbox(runtime) -> list[OutboxMessage]:
    async with runtime.uows() as uow:
        rows = list((await uow.session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())
        uow.session.expunge_all()
        return rows


async def _time_passes(runtime, seconds: float) -> None:
    """Every due time moves ``seconds`` earlier: the outbox sees that much time pass, without sleeping."""
    async with runtime.uows() as uow:
        for row in (await uow.session.execute(select(OutboxMessage))).scalars():
            row.next_attempt_at -= timedelta(seconds=seconds)
        await uow.commit()


async def _enqueue(runtime, messages: list[tuple[int, str]]) -> None:
    async with runtime.uows() as uow:
        for n, (chat, body) in enumerate(messages):
            await uow.outbox.enqueue("telegram", str(chat), Reply(body), dedupe_key=f"fault-test:{n}")
        await uow.commit()


async def test_a_send_that_times_out_is_retried_with_back_off_and_delivered_once(unreliable):
    runtime, api = unreliable, unreliable.api
    api.plan = ["timeout"]
    await _enqueue(runtime, [(4242, "Thông báo lịch tiếp dân tuần sau.")])
    before = utcnow()
    await runtime.dispatcher.drain()
    [row] = await _outbox(runtime)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "Timed out" in row.last_error
    assert 2.0 <= (row.next_attempt_at - before).total_seconds() < 4.0  # the first back-off step
    await runtime.dispatcher.drain()
    assert api.sent() == []  # not before its time
    await _time_passes(runtime, 2)
    await runtime.dispatcher.drain()
    assert api.sent_texts(4242) == ["Thông báo lịch tiếp dân tuần sau."]
    assert [row.status for row in await _outbox(runtime)] == ["sent"]


async def test_a_proxy_error_page_instead_of_json_is_retried(unreliable):
    runtime, api = unreliable, unreliable.api
    api.plan = ["502", "503"]
    await _enqueue(runtime, [(4243, "Kết quả lấy ý kiến đã được công bố.")])
    await runtime.dispatcher.drain()
    [row] = await _outbox(runtime)
    assert (row.status, row.attempts) == ("pending", 1) and "Bad Gateway" in row.last_error
    await _time_passes(runtime, 2)
    await runtime.dispatcher.drain()
    [row] = await _outbox(runtime)
    assert (row.status, row.attempts) == ("pending", 2)
    await _time_passes(runtime, 4)
    await runtime.dispatcher.drain()
    assert api.sent_texts(4243) == ["Kết quả lấy ý kiến đã được công bố."]


async def test_a_storm_of_5xx_429_and_timeouts_drops_nothing_doubles_nothing_and_keeps_each_chats_order(unreliable):
    runtime, api = unreliable, unreliable.api
    rng = random.Random(7)
    faults = [None] * 12 + ["500", "502", "503", "timeout", "timeout", "429:1", "429:3", "429:7"]
    api.plan = [rng.choice(faults) for _ in range(400)]
    chats = [9100 + n for n in range(8)]
    messages = [(chats[n % 8], f"Tin số {n} gửi người dân {chats[n % 8]}") for n in range(48)]
    await _enqueue(runtime, messages)
    rounds = 0
    while any(row.status != "sent" for row in await _outbox(runtime)):
        rounds += 1
        assert rounds < 60, "the outbox never emptied"
        before = utcnow()
        await runtime.dispatcher.drain()
        for row in await _outbox(runtime):
            if row.status == "pending" and row.last_error and (asked := re.search(r"retry after (\d+)", row.last_error)):
                # Flood control: never retried before the time Telegram asked for (rows waiting
                # behind it in the same chat are due a second later and are not held to it).
                if row.next_attempt_at > before + timedelta(seconds=2):
                    assert row.next_attempt_at >= before + timedelta(seconds=int(asked.group(1)))
        await _time_passes(runtime, 600)
    assert len(api.failed) > 20  # the storm happened
    sent = defaultdict(list)
    for params in api.sent():
        sent[int(params["chat_id"])].append(params["text"])
    for chat in chats:
        assert sent[chat] == [body for c, body in messages if c == chat]  # each once, in order
    assert all(row.status == "sent" for row in await _outbox(runtime))


# -- a full disk -------------------------------------------------------------------------------------

@pytest.fixture
async def nearly_full(settings, tmp_path):
    """The demo ward on SQLite, where the database may not grow beyond ``runtime.page_limit`` pages:
    SQLite then answers "database or disk is full", as it does when the disk is."""
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("PRAGMA max_page_count is SQLite's")
    runtime = Runtime(settings, run_scheduler=False)
    runtime.page_limit = 1_000_000_000

    @event.listens_for(runtime.engine.sync_engine, "connect")
    def _limit(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count = {runtime.page_limit}")
        cursor.close()

    async def limit(pages: int | None) -> None:
        """Cap the database at its current size plus ``pages`` (None: no cap); every new connection obeys."""
        async with runtime.uows() as uow:
            current = (await uow.session.execute(text("PRAGMA page_count"))).scalar_one()
        runtime.page_limit = 1_000_000_000 if pages is None else current + pages
        await runtime.engine.dispose()

    runtime.limit = limit
    runtime.database_errors = []

    @event.listens_for(runtime.engine.sync_engine, "handle_error")
    def _seen(context):
        runtime.database_errors.append(str(context.original_exception))

    await runtime.start(migrate=False)
    await seed_demo(runtime.uows, settings)
    yield runtime
    await runtime.stop()


async def test_a_full_disk_gets_the_try_again_answer_and_nothing_is_lost_once_there_is_room(nearly_full, caplog):
    runtime = nearly_full
    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        await reach_menu(tab)
        await describe(tab, "feedback")  # at the location step
        await runtime.limit(0)
        refused = None
        for n in range(300):  # each answer needs a little room; the free space left in the pages goes first
            response = await client.post("/api/chat/send", json={"id": f"full-{n}", "text": "/help",
                                                                   "after": tab.cursor})
            if response.status != 200:
                refused = (response.status, await response.json())
                break
            tab.cursor = (await response.json())["cursor"]
        assert refused == (503, {"error": TRY_AGAIN})
        assert "database or disk is full" in runtime.database_errors  # a real SQLITE_FULL, nothing else
        assert (await client.get("/healthz")).status == 200  # still serving
        assert not runtime.dispatcher._task.done()

        await runtime.limit(None)  # the operator frees space
        replies = await tab.send("/help", message_id=f"full-{n}")  # the refused message, sent again
        assert replies[-1]["text"] == t("vi", "submit.location@web")  # the web chat offers its own 📍
        replies = await tab.send("Trước số 12 Hàng Bạc")
        assert "consent:anonymous" in {b["value"] for row in replies[-1]["buttons"] for b in row}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name != "scheduler.outbox"]
    assert errors == [], [r.getMessage() for r in errors]


async def test_a_photo_that_does_not_fit_on_the_disk_is_refused_and_the_chat_goes_on(nearly_full):
    runtime = nearly_full
    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        await reach_menu(tab)
        await describe(tab, "feedback")
        await tab.send(button="submit:cancel")
        await tab.send(button="menu:submit")
        await tab.send(button="kind:feedback")
        await tab.send(button="category:infrastructure")
        await tab.send("Ổ gà lớn trước số 12 phố Hàng Bạc, xe máy ngã nhiều lần.")
        await runtime.limit(50)  # 50 pages of 4 KB: not enough for a 1 MB photo
        status, body = await _upload(tab, _jpeg(1024 * 1024))
        assert (status, body) == (503, {"error": TRY_AGAIN})
        assert runtime.database_errors == ["database or disk is full"]
        assert await _attachments(runtime) == 0
        status, body = await _upload(tab, _jpeg(20 * 1024))  # a small one still fits
        assert status == 200 and body["messages"][0]["text"] == "Đã nhận ảnh 1/5."


# -- uploads too large to take ----------------------------------------------------------------------------

def _jpeg(size: int) -> bytes:
    return b"\xff\xd8\xff\xe0" + bytes(size - 4)


async def _attachments(runtime) -> int:
    async with runtime.uows() as uow:
        return len(list((await uow.session.execute(select(Attachment.id))).scalars()))


async def _upload(tab: Browser, data: bytes, *, chunked: bool = False) -> tuple[int, dict]:
    form = FormData()
    form.add_field("id", f"photo-{len(data)}-{chunked}")
    form.add_field("after", str(tab.cursor))
    form.add_field("photo", data, filename="anh.jpg", content_type="image/jpeg")
    if chunked:  # no Content-Length: the server only finds out while reading
        writer, sink = form(), _Sink()
        await writer.write(sink)
        response = await tab.client.post("/api/chat/photo", data=sink.pieces(),
                                         headers={"Content-Type": writer.content_type, **same_origin(tab.client)})
    else:
        response = await tab.client.post("/api/chat/photo", data=form, headers=same_origin(tab.client))
    body = await response.json()
    if response.status == 200:
        tab.cursor = body["cursor"]
    return response.status, body


class _Sink:
    """Collects a multipart body, then hands it out in 64 KB pieces (chunked transfer encoding)."""

    def __init__(self):
        self.data = bytearray()

    async def write(self, data) -> None:
        self.data += data

    async def pieces(self):
        for start in range(0, len(self.data), 65536):
            yield bytes(self.data[start:start + 65536])


@pytest.mark.parametrize("size, chunked", [
    (5 * 1024 * 1024 + 1000, False),        # just over the limit: Content-Length passes the first check
    (7 * 1024 * 1024, True),                # far over it, without a Content-Length
])
async def test_an_oversized_photo_is_refused_however_it_is_sent(runtime, citizen, size, chunked):
    await citizen.send(button="menu:submit")
    await citizen.send(button="kind:feedback")
    await citizen.send(button="category:infrastructure")
    await citizen.send("Ổ gà lớn trước số 12 phố Hàng Bạc, xe máy ngã nhiều lần.")
    status, body = await _upload(citizen, _jpeg(size), chunked=chunked)
    assert (status, body) == (413, {"error": "Ảnh quá lớn. Vui lòng gửi ảnh dưới 5 MB."})
    assert await _attachments(runtime) == 0
    status, _ = await _upload(citizen, _jpeg(10 * 1024))
    assert status == 200


async def test_an_oversized_message_without_a_length_is_refused(citizen):
    async def pieces():
        yield b'{"id": "big", "text": "'
        for _ in range(70):
            yield b"x" * 1024
        yield b'"}'

    response = await citizen.client.post("/api/chat/send", data=pieces(), headers={"Content-Type": "application/json"})
    assert response.status == 413
    assert (await response.json())["error"] == t("vi", "error.request_too_large")
    assert (await citizen.send("/menu"))[-1]["text"] == MENU


# -- a broadcast must not hold back the replies of people talking to the bot ------------------------------

async def test_a_reply_is_claimed_before_the_rest_of_a_broadcast(runtime):
    async with runtime.uows() as uow:
        for n in range(300):
            await uow.outbox.enqueue("telegram", str(8_000_000 + n), Reply("📣 Thông báo của UBND"),
                                     dedupe_key=f"announce:test:{n}:telegram")
        await uow.outbox.enqueue("telegram", "5550001", Reply("Bạn muốn làm gì? Chọn một mục bên dưới."),
                                 dedupe_key="reply:telegram:1:0")
        await uow.commit()
    async with runtime.uows() as uow:
        claimed = await uow.outbox.claim_due(100, timedelta(seconds=60), ["telegram"])
        assert "5550001" in {row.chat_id for row in claimed}
        # First, then the broadcast in its own order.
        assert claimed[0].chat_id == "5550001" and [row.bulk for row in claimed[1:]] == [True] * 99
        assert [row.chat_id for row in claimed[1:4]] == ["8000000", "8000001", "8000002"]
