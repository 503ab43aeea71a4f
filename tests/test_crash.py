"""Crash safety: a real ``tiepdan serve`` killed with SIGKILL at random moments while citizens file
submissions over Telegram and an announcement goes out to a few hundred subscribers; restarted each
time on the same database (SQLite file and PostgreSQL).

Telegram is a fake Bot API in the test process (aiohttp on 127.0.0.1, reached through
TIEPDAN_TELEGRAM_BASE_URL): it serves getUpdates from a queue with Telegram's confirmation rule
(an update stays until a later call's ``offset`` passes it, so updates fetched by a killed process
come again) and records every sendMessage as one delivery. The citizens behave like people: they
answer whatever the bot last asked, and if nothing comes back for a while they answer again.

After the last restart the test checks what the issue asks: every receipt a citizen saw belongs to
exactly one item and every item filed from a chat had its receipt delivered; no description was filed
twice; every conversation row reads back and each chat goes on with /menu; every outbox row is sent;
no message is missing. A row whose send reached Telegram but whose "sent" mark was not committed
before the kill is sent again after its lease (Telegram has no idempotency key), so duplicates are
allowed up to the number of rows that were being sent at the kills, and counted.

The dispatcher's lease is 60 s and not a setting, so after each kill the test moves the dead
process's leases to "expired" instead of sleeping a minute (the same time travel as
tests/test_telegram.py's ``wait_a_while``). Set TIEPDAN_CRASH_REPORT=1 to print the figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import func, select, text, update

from bot.domain.dialog import Conversation
from bot.publishing import announce
from bot.texts import t
from handlers.pipeline import FLOWS  # importing the pipeline registers every flow
from storage.db import create_engine, session_factory
from storage.models import ChannelIdentity, ConversationState, Item, OutboxMessage, Subscription, Unit, User, utcnow
from storage.uow import UnitOfWorkFactory

TOKEN = "123:ABC"
KILLS = 5
SUBSCRIBERS = 120
CITIZENS = (7100001, 7100002, 7100003)
SEED = 20261123
BOT_USER = {"id": 777000, "is_bot": True, "first_name": "tiepdan", "username": "tiepdan_test_bot"}

ASK_COMMUNE = t("vi", "start.ask_commune")
ASK_DESCRIPTION = t("vi", "submit.description")
MENU = t("vi", "menu.title")
RECEIPT = re.compile(r"^✅ Đã tiếp nhận\. Mã hồ sơ của bạn: (TD-[0-9A-Z]{5}-[0-9A-Z]{5})")


def description(chat: int, number: int) -> str:
    return f"Ổ gà số {number} của người dân {chat} trước nhà số {number} phố Hàng Bạc, đề nghị sửa."


class FakeBotAPI:
    """The Bot API as tiepdan's python-telegram-bot sees it over HTTP."""

    def __init__(self) -> None:
        self.pending: list[dict] = []            # updates not yet confirmed by an offset
        self.deliveries: list[tuple[int, str, list]] = []   # (chat, text, button values), one per sendMessage
        self.changed = asyncio.Event()
        self._update_arrived = asyncio.Event()
        self._update_id = 1000
        self._message_id = 1

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._call)
        return app

    async def _call(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = dict(await request.post())
        if method == "getUpdates":
            result = await self._get_updates(params)
        elif method == "sendMessage":
            result = self._send_message(params)
        elif method == "getMe":
            result = BOT_USER
        else:
            result = True  # deleteWebhook, answerCallbackQuery, ...
        return web.json_response({"ok": True, "result": result})

    async def _get_updates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        if offset:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        if not self.pending:
            self._update_arrived.clear()
            try:
                await asyncio.wait_for(self._update_arrived.wait(), min(float(params.get("timeout") or 0), 1.0))
            except asyncio.TimeoutError:
                pass
        return self.pending[:int(params.get("limit") or 100)]

    def _send_message(self, params: dict) -> dict:
        chat = int(params["chat_id"])
        markup = json.loads(params["reply_markup"]) if params.get("reply_markup") else {}
        values = [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]
        self.deliveries.append((chat, params["text"], values))
        self.changed.set()
        self._message_id += 1
        return {"message_id": self._message_id, "date": int(time.time()), "from": BOT_USER,
                "chat": {"id": chat, "type": "private"}, "text": params["text"]}

    def _push(self, body: dict) -> None:
        self._update_id += 1
        self.pending.append({"update_id": self._update_id, **body})
        self._update_arrived.set()

    def say(self, chat: int, words: str) -> None:
        message = {"message_id": self._update_id, "date": int(time.time()), "text": words,
                   "chat": {"id": chat, "type": "private", "first_name": "Lan"},
                   "from": {"id": chat, "is_bot": False, "first_name": "Lan", "language_code": "vi"}}
        if words.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(words.split()[0])}]
        self._push({"message": message})

    def press(self, chat: int, value: str) -> None:
        self._push({"callback_query": {
            "id": f"cq{self._update_id}", "chat_instance": "ci", "data": value,
            "from": {"id": chat, "is_bot": False, "first_name": "Lan", "language_code": "vi"},
            "message": {"message_id": 1, "date": int(time.time()), "text": "…", "from": BOT_USER,
                        "chat": {"id": chat, "type": "private"}}}})

    def to(self, chat: int) -> list[tuple[str, list]]:
        return [(text_, values) for c, text_, values in self.deliveries if c == chat]


class Citizen:
    """Files feedback after feedback, answering whatever the bot asked last; repeats an answer that
    got no reply (the server may be dead) and waits for a receipt it knows is coming."""

    PATIENCE = 4.0

    def __init__(self, api: FakeBotAPI, chat: int):
        self.api, self.chat = api, chat
        self.seen = 0
        self.number = 1                     # the submission being filed
        self.receipts: dict[str, int] = {}  # tracking code -> submission number
        self.awaiting_receipt = False
        self.finish = False                 # file nothing new; stop at the menu
        self.done = asyncio.Event()

    async def run(self) -> None:
        self.api.say(self.chat, "/start")
        while not self.done.is_set():
            latest = await self._next_reply()
            if latest is None or self.done.is_set():
                continue
            self._act(*latest)

    async def _next_reply(self):
        """The last message of the bot's next burst of replies, or the last one seen after a silence."""
        deadline = asyncio.get_running_loop().time() + self.PATIENCE
        while True:
            messages = self.api.to(self.chat)
            if len(messages) > self.seen:
                await asyncio.sleep(0.15)  # let the rest of the burst arrive
                messages = self.api.to(self.chat)
                for text_, _ in messages[self.seen:]:
                    self._note_receipt(text_)
                self.seen = len(messages)
                return messages[-1]
            if asyncio.get_running_loop().time() > deadline:
                return messages[-1] if messages and not self.awaiting_receipt else None
            self.api.changed.clear()
            try:
                await asyncio.wait_for(self.api.changed.wait(), 0.5)
            except asyncio.TimeoutError:
                pass

    def _note_receipt(self, text_: str) -> None:
        match = RECEIPT.match(text_)
        if match and match.group(1) not in self.receipts:
            self.receipts[match.group(1)] = self.number
            self.number += 1
            self.awaiting_receipt = False

    def _act(self, text_: str, values: list[str]) -> None:
        if "lang:vi" in values:
            self.api.press(self.chat, "lang:vi")
        elif text_ == ASK_COMMUNE:
            self.api.say(self.chat, "hoan kiem")
        elif "commune:70" in values:
            self.api.press(self.chat, "commune:70")
        elif "menu:submit" in values:
            if self.awaiting_receipt:
                return
            if self.finish and self.receipts:  # at least one submission each, however slow the machine
                self.done.set()
                return
            self.api.press(self.chat, "menu:submit")
        elif "kind:feedback" in values:
            self.api.press(self.chat, "kind:feedback")
        elif "category:infrastructure" in values:
            self.api.press(self.chat, "category:infrastructure")
        elif text_ == ASK_DESCRIPTION:
            self.api.say(self.chat, description(self.chat, self.number))
        elif "photos:done" in values:
            self.api.press(self.chat, "photos:done")
        elif "location:skip" in values:
            self.api.press(self.chat, "location:skip")
        elif "consent:anonymous" in values:
            self.api.press(self.chat, "consent:anonymous")
        elif "submit:send" in values:
            self.api.press(self.chat, "submit:send")
        elif "submit:force" in values:
            # "you just sent the same text": it was filed before a crash, its receipt is on the way
            self.awaiting_receipt = True
            self.api.press(self.chat, "submit:cancel")
        else:
            self.api.say(self.chat, "/menu")


class Server:
    """``python -m bot.cli serve`` as a child process."""

    def __init__(self, env: dict, workdir: Path):
        self.env, self.workdir = env, workdir
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        self.starts += 1
        log = open(self.workdir / f"serve-{self.starts}.log", "wb")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", cwd=self.workdir, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=log)
        log.close()
        line = await asyncio.wait_for(self.process.stdout.readline(), 30)
        assert line.startswith(b"tiepdan: web chat at"), line

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()

    def logs(self) -> str:
        return "".join((self.workdir / f"serve-{n}.log").read_text(errors="replace")
                       for n in range(1, self.starts + 1))


async def _subscribers_and_leader(uows: UnitOfWorkFactory) -> User:
    async with uows() as uow:
        # The ward's office takes what its citizens file (a commune without units files nothing).
        uow.session.add(Unit(commune_code=70, name="Văn phòng HĐND và UBND phường", is_fallback=True))
        leader = User(language="vi", role="leader", commune_code=70)
        uow.session.add(leader)
        for n in range(SUBSCRIBERS):
            user = User(language="vi" if n % 3 else "en", commune_code=70)
            uow.session.add(user)
            await uow.session.flush()
            chat = str(8_000_000 + n)
            uow.session.add(ChannelIdentity(channel="telegram", external_id=chat, user_id=user.id, last_chat_id=chat))
            uow.session.add(Subscription(user_id=user.id, topic="reception", commune_code=70))
        await uow.commit()
        return leader


async def _broadcast(uows: UnitOfWorkFactory, leader: User, number: int) -> int:
    """What a leader's 📣 does (bot/publishing.py): every subscriber's message in one transaction."""
    async with uows() as uow:
        count = await announce(uow, leader, f"Thông báo số {number}: lịch cắt điện khu phố Hàng Bạc.",
                               f"crash-test-{number}")
        await uow.commit()
    return count


async def _in_flight_then_expire_leases(uows: UnitOfWorkFactory) -> int:
    """Rows the killed process had claimed: some of them may have reached Telegram. Their leases are
    made to run out now, as they would a minute later."""
    async with uows() as uow:
        sending = (await uow.session.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sending"))).scalar_one()
        await uow.session.execute(update(OutboxMessage).where(OutboxMessage.status == "sending")
                                  .values(next_attempt_at=utcnow()))
        await uow.commit()
    return sending


async def _outbox_settled(uows: UnitOfWorkFactory, seconds: float) -> dict[str, int]:
    deadline = time.monotonic() + seconds
    while True:
        async with uows() as uow:
            statuses = dict((await uow.session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))).all())
        if set(statuses) == {"sent"} or time.monotonic() > deadline:
            return statuses
        await asyncio.sleep(0.25)


async def test_sigkill_during_submissions_and_a_broadcast_loses_nothing(db_url, tmp_path):
    rng = random.Random(SEED)
    api = FakeBotAPI()
    runner = web.AppRunner(api.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    web_port = _free_port()
    env = {**os.environ, "TIEPDAN_DATABASE_URL": db_url, "TIEPDAN_TELEGRAM_TOKEN": TOKEN,
           "TIEPDAN_TELEGRAM_BASE_URL": f"http://127.0.0.1:{port}", "TIEPDAN_WEB_PORT": str(web_port),
           "TIEPDAN_TELEGRAM_PER_CHAT_RATE": "1000", "TIEPDAN_FLOOD_RATE": "1000",
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    server = Server(env, tmp_path)
    engine = create_engine(db_url)
    uows = UnitOfWorkFactory(session_factory(engine))
    citizens = [Citizen(api, chat) for chat in CITIZENS]
    tasks: list[asyncio.Task] = []
    finished: list[asyncio.Task] = []
    in_flight, announced = 0, 0
    started = time.monotonic()
    try:
        leader = await _subscribers_and_leader(uows)
        tasks = [asyncio.create_task(c.run()) for c in citizens]
        for cycle in range(KILLS):
            await server.start()
            if cycle in (1, 3):
                announced += await _broadcast(uows, leader, cycle)
            await asyncio.sleep(rng.uniform(1.0, 3.0))
            await server.kill()
            in_flight += await _in_flight_then_expire_leases(uows)

        await server.start()
        for citizen in citizens:
            citizen.finish = True
        finished = [asyncio.create_task(c.done.wait()) for c in citizens]
        await asyncio.wait(finished, timeout=90)
        stuck = [c.chat for c, task in zip(citizens, finished) if not task.done()]
        assert not stuck, f"citizens {stuck} never got back to the menu with their receipts (a reply lost?)"
        statuses = await _outbox_settled(uows, 30)
        assert statuses == {"sent": statuses.get("sent", 0)}, statuses

        # Every conversation reads back, and every chat goes on with /menu.
        async with uows() as uow:
            conversations = list((await uow.session.execute(select(ConversationState))).scalars())
            if uow.dialect == "sqlite":
                assert (await uow.session.execute(text("PRAGMA integrity_check"))).scalar_one() == "ok"
        assert {int(c.chat_id) for c in conversations} == set(CITIZENS)
        for row in conversations:
            assert row.flow in FLOWS and isinstance(row.step, str) and isinstance(row.data, dict)
            Conversation(row.flow, row.step, dict(row.data), list(row.expected_buttons))
        before = {chat: len(api.to(chat)) for chat in CITIZENS}
        for chat in CITIZENS:
            api.say(chat, "/menu")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all(
                any(text_ == MENU for text_, _ in api.to(chat)[before[chat]:]) for chat in CITIZENS):
            await asyncio.sleep(0.1)
        for chat in CITIZENS:
            assert any(text_ == MENU and "menu:submit" in values for text_, values in api.to(chat)[before[chat]:]), chat
        statuses = await _outbox_settled(uows, 15)
        await server.stop()
    finally:
        for task in tasks + finished:
            task.cancel()
        await server.stop()
        await runner.cleanup()

    # Receipts: each one a citizen saw is one item from that chat; each item filed had its receipt seen.
    async with uows() as uow:
        items = list((await uow.session.execute(select(Item))).scalars())
        outbox = list((await uow.session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())
    await engine.dispose()
    by_code = {item.tracking_code: item for item in items}
    receipts = 0
    for citizen in citizens:
        assert citizen.receipts, f"citizen {citizen.chat} never got a receipt"
        for code, number in citizen.receipts.items():
            assert by_code[code].chat_id == str(citizen.chat)
            assert by_code[code].description == description(citizen.chat, number)
        assert {i.tracking_code for i in items if i.chat_id == str(citizen.chat)} == set(citizen.receipts)
        receipts += len(citizen.receipts)
    filed = Counter(item.description for item in items)
    assert max(filed.values()) == 1, [d for d, n in filed.items() if n > 1]

    # Deliveries: nothing missing; anything extra is a resend of a row that was in flight at a kill.
    assert {row.status for row in outbox} == {"sent"}
    # Entries taking an old keyboard away (issue 18) are edits, not messages: not counted here.
    expected = Counter((int(row.chat_id), row.payload["text"]) for row in outbox if not row.payload.get("clears"))
    delivered = Counter((chat, text_) for chat, text_, _ in api.deliveries)
    assert expected - delivered == Counter(), "messages written to the outbox but never delivered"
    duplicates = sum((delivered - expected).values())
    assert set(delivered) <= set(expected), "a delivery that no outbox row asked for"
    assert duplicates <= in_flight
    assert announced == 2 * SUBSCRIBERS
    logs = server.logs()
    trouble = logs.find(" ERROR ") if " ERROR " in logs else logs.find("Traceback")
    assert trouble < 0, logs[max(0, trouble - 200):trouble + 4000]
    if os.environ.get("TIEPDAN_CRASH_REPORT"):
        print(f"\n{db_url.split(':')[0]}: {KILLS} kills, {receipts} receipts, {len(outbox)} outbox rows, "
              f"{len(api.deliveries)} deliveries, {in_flight} rows in flight at the kills, {duplicates} duplicates, "
              f"{time.monotonic() - started:.1f} s, {api._update_id - 1000} updates")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
