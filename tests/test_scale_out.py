"""Three ``serve`` processes on one PostgreSQL behind nginx, one of them SIGKILLed every few seconds.

Fifty citizens file feedback through nginx: half on Telegram in webhook mode (the fake Bot API of
bench/fake_bot_api.py records what is sent; the test posts each update to nginx as Telegram does:
a chat's next update only once the previous one was answered 200, and again after any other answer),
half in the web chat (JSON API, a cookie each, a message sent again with its id after an error).
Meanwhile a random process is killed with SIGKILL every few seconds and started again.

Afterwards: every receipt a citizen got is one item from that chat and each chat's items are the
receipts it got; every outbox row was sent, and to Telegram once, except rows that were being sent
at a kill (README "Performance": such a row is sent again after its lease), counted; each Telegram
chat received its messages in the order they were written; no process polled Telegram.

The dispatcher's lease is 60 s and not a setting, so after each kill the rows still "sending" a
second later (the dead process's) get their lease ended, as tests/test_crash.py does.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import re
import sys
import time
import uuid
from collections import Counter, defaultdict

import aiohttp
import pytest
from sqlalchemy import func, select, update

from bench.fake_bot_api import FakeBotAPI
from bot.channels.telegram import SECRET_HEADER
from bot.settings import Settings
from bot.texts import t
from storage.db import create_engine, session_factory
from storage.demo import seed_demo
from storage.models import Item, OutboxMessage, utcnow
from storage.uow import UnitOfWorkFactory
from bench.scale_out import NGINX, Nginx, Serve, serve_env
from tests.conftest import IN_CI

PROCESSES = 3
TELEGRAM_CITIZENS = 25
WEB_CITIZENS = 25
ROUNDS = 2                  # submissions each citizen files
KILL_EVERY = (1.5, 3.0)     # seconds between kills
RUN_AT_MOST = 200.0         # seconds for every citizen to reach a receipt, kills included
SECRET = "scale-out-secret"
SEED = 20261204
RECEIPT = re.compile(r"(TD-[0-9A-Z]{5}-[0-9A-Z]{5})")
ASK_COMMUNE = t("vi", "start.ask_commune")
ASK_DESCRIPTION = t("vi", "submit.description")

pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL"),
              # under CI=true a missing nginx fails the test (conftest.IN_CI), as a missing browser does
              pytest.mark.skipif(not os.path.exists(NGINX) and not IN_CI, reason="nginx not installed")]


def description(chat: str, number: int) -> str:
    return f"Cống thoát nước số {number} tắc trước nhà của người dân {chat}, phố Hàng Bạc, mỗi khi mưa lại ngập."


# A submission from the menu, as (what the citizen does, what the bot's reply to it shows).
STEPS = [
    ("/start", lambda m: "lang:vi" in m.values),
    ("button:lang:vi", lambda m: m.text == ASK_COMMUNE),
    ("hoan kiem", lambda m: "commune:70" in m.values),
    ("button:commune:70", lambda m: "menu:submit" in m.values),
    ("button:menu:submit", lambda m: "kind:feedback" in m.values),
    ("button:kind:feedback", lambda m: "category:infrastructure" in m.values),
    ("button:category:infrastructure", lambda m: m.text == ASK_DESCRIPTION),
    ("{description}", lambda m: "photos:done" in m.values),
    ("button:photos:done", lambda m: "location:skip" in m.values),
    ("button:location:skip", lambda m: "consent:anonymous" in m.values),
    ("button:consent:anonymous", lambda m: "submit:send" in m.values),
    ("button:submit:send", lambda m: RECEIPT.search(m.text) is not None),
]
AGAIN = [("/menu", lambda m: "menu:submit" in m.values)] + STEPS[4:]  # the next submission


def rounds():
    for number in range(1, ROUNDS + 1):
        for action, expected in (STEPS if number == 1 else AGAIN):
            yield number, action, expected


class Message:
    def __init__(self, text: str, values: list[str]):
        self.text, self.values = text, values


class TelegramCitizen:
    """Telegram's side of one private chat: updates to the webhook behind nginx, replies from the fake."""

    update_ids = itertools.count(100_000)

    def __init__(self, chat: int, front: str, api: FakeBotAPI, session: aiohttp.ClientSession):
        self.chat, self.front, self.api, self.session = chat, front, api, session
        self.receipts: list[str] = []
        self.seen = 0

    def messages(self) -> list[Message]:
        return [Message(d.text, d.values) for d in self.api.delivered if d.chat_id == self.chat]

    async def run(self) -> None:
        for number, action, expected in rounds():
            await self._deliver(action.replace("{description}", description(str(self.chat), number)))
            reply = await self._reply(expected)
            if action == "button:submit:send":
                self.receipts.append(RECEIPT.search(reply.text).group(1))

    async def _deliver(self, action: str) -> None:
        user = {"id": self.chat, "is_bot": False, "first_name": "Lan", "language_code": "vi"}
        chat = {"id": self.chat, "type": "private", "first_name": "Lan"}
        update_id = next(self.update_ids)
        if action.startswith("button:"):
            body = {"callback_query": {"id": f"cq{update_id}", "chat_instance": "ci", "data": action[7:], "from": user,
                                       "message": {"message_id": 1, "date": int(time.time()), "text": "…",
                                                   "chat": chat}}}
        else:
            body = {"message": {"message_id": update_id, "date": int(time.time()), "text": action, "chat": chat,
                                "from": user}}
            if action.startswith("/"):
                body["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": len(action)}]
        update = {"update_id": update_id, **body}
        while True:  # as Telegram: until the webhook answers 200
            try:
                async with self.session.post(f"{self.front}/telegram/webhook", json=update,
                                             headers={SECRET_HEADER: SECRET}) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.3)

    async def _reply(self, expected) -> Message:
        while True:
            messages = self.messages()
            for message in messages[self.seen:]:
                if expected(message):
                    self.seen = messages.index(message, self.seen) + 1
                    return message
            await asyncio.sleep(0.1)


class WebCitizen:
    """A browser tab of the web chat, through nginx."""

    def __init__(self, number: int, front: str):
        self.number, self.front = number, front
        self.cursor = 0
        self.receipts: list[str] = []
        self.chat = f"web-{number}"  # its chat id is the server's; this names it in messages

    async def run(self) -> None:
        jar = aiohttp.CookieJar(unsafe=True)  # cookies from 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as self.session:
            for number, action, expected in rounds():
                messages = await self._send(action.replace("{description}", description(self.chat, number)))
                found = [m for m in messages if expected(m)]
                assert found, (self.chat, action, [m.text[:60] for m in messages])
                if action == "button:submit:send":
                    self.receipts.append(RECEIPT.search(found[-1].text).group(1))

    async def _send(self, action: str) -> list[Message]:
        body = {"id": uuid.uuid4().hex, "after": self.cursor}
        body.update({"button": action[7:]} if action.startswith("button:") else {"text": action})
        while True:  # the same message id after an error: handled once however often it is sent
            try:
                async with self.session.post(f"{self.front}/api/chat/send", json=body,
                                             headers={"Origin": self.front}) as response:
                    if response.status == 200:
                        page = await response.json()
                        break
                    # A process killed mid-request (502) or starting (503) is retried; anything else is a bug.
                    assert response.status in (502, 503, 504), (response.status, await response.text())
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.3)
        self.cursor = page["cursor"]
        return [Message(m.get("text") or "", [b["value"] for row in m.get("buttons") or () for b in row])
                for m in page["messages"] if m.get("from") != "me"]


class Deliveries(FakeBotAPI):
    """The fake Bot API, also keeping each message's button values."""

    def _send(self, method: str, params: dict):
        response = super()._send(method, params)
        markup = params.get("reply_markup") or {}
        self.delivered[-1].values = [b.get("callback_data") for row in markup.get("inline_keyboard", [])
                                     for b in row] if isinstance(markup, dict) else []
        return response


async def _end_dead_leases(uows: UnitOfWorkFactory, at_kill: set[int]) -> int:
    """The rows the killed process was sending: those of ``at_kill`` still "sending" a second on (a live
    process finishes a send in milliseconds). Their lease is ended now instead of in a minute. Returns
    how many were Telegram messages, which Telegram may have received already."""
    await asyncio.sleep(1.0)
    async with uows() as uow:
        stuck = (await uow.session.execute(select(OutboxMessage.id, OutboxMessage.channel).where(
            OutboxMessage.status == "sending", OutboxMessage.id.in_(at_kill or {0})))).all()
        if stuck:
            await uow.session.execute(update(OutboxMessage).where(OutboxMessage.id.in_([i for i, _ in stuck]))
                                      .values(next_attempt_at=utcnow()))
        await uow.commit()
    return sum(channel == "telegram" for _, channel in stuck)


async def _sending(uows: UnitOfWorkFactory) -> set[int]:
    async with uows() as uow:
        return set((await uow.session.execute(select(OutboxMessage.id).where(
            OutboxMessage.status == "sending"))).scalars())


async def _settled(uows: UnitOfWorkFactory, seconds: float) -> dict[str, int]:
    deadline = time.monotonic() + seconds
    while True:
        async with uows() as uow:
            statuses = dict((await uow.session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))).all())
        if set(statuses) <= {"sent"} or time.monotonic() > deadline:
            return statuses
        await asyncio.sleep(0.25)


def in_order(delivered: list[str], written: list[str]) -> tuple[bool, int]:
    """Whether ``delivered`` is ``written`` in order, each one possibly repeated right after itself
    (a resend after a kill); and how many repeats."""
    position, repeats = 0, 0
    for text in delivered:
        if position < len(written) and text == written[position]:
            position += 1
        elif position and text == written[position - 1]:
            repeats += 1
        else:
            return False, repeats
    return position == len(written), repeats


async def test_three_processes_behind_nginx_lose_nothing_when_killed_at_random(db_url, tmp_path):
    if not db_url.startswith("postgresql"):
        pytest.skip("several serve processes share a database only on PostgreSQL")
    rng = random.Random(SEED)
    engine = create_engine(db_url)
    uows = UnitOfWorkFactory(session_factory(engine))
    await seed_demo(uows, Settings(database_url=db_url, _env_file=None))
    api = Deliveries(enforce=False)
    await api.start()
    env = serve_env(db_url, TIEPDAN_TELEGRAM_TOKEN="123:ABC", TIEPDAN_TELEGRAM_BASE_URL=api.base_url,
                    TIEPDAN_TELEGRAM_MODE="webhook",
                    TIEPDAN_TELEGRAM_WEBHOOK_URL="https://xa.example.vn/telegram/webhook",
                    TIEPDAN_TELEGRAM_WEBHOOK_SECRET=SECRET)
    servers = [Serve(env, tmp_path / f"serve-{n}") for n in range(PROCESSES)]
    nginx = Nginx(tmp_path / "nginx", [s.port for s in servers])
    kills, in_flight, tasks, restarts = 0, 0, [], []
    killing: asyncio.Task | None = None
    starting: set[Serve] = set()  # killed and not yet started again

    async def killer() -> None:
        """Every few seconds a random process of those running (never the last one) is killed and
        started again in the background, while the next kill is already counting down."""
        nonlocal kills, in_flight
        while True:
            await asyncio.sleep(rng.uniform(*KILL_EVERY))
            running = [s for s in servers if s.alive and s not in starting]
            if len(running) < 2:
                continue
            victim = rng.choice(running)
            starting.add(victim)
            at_kill = await _sending(uows)
            await victim.kill()
            kills += 1

            async def again(server=victim, rows=at_kill) -> None:
                nonlocal in_flight
                in_flight += await _end_dead_leases(uows, rows)
                await server.start()
                starting.discard(server)
            restarts.append(asyncio.create_task(again()))
    started = time.monotonic()
    try:
        for server in servers:
            await server.start()
        front = await nginx.start()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            telegram = [TelegramCitizen(7_200_000 + n, front, api, session) for n in range(TELEGRAM_CITIZENS)]
            web = [WebCitizen(n, front) for n in range(WEB_CITIZENS)]
            tasks = [asyncio.create_task(c.run()) for c in telegram + web]
            killing = asyncio.create_task(killer())
            deadline = time.monotonic() + RUN_AT_MOST
            pending = set(tasks)
            while pending and time.monotonic() < deadline:
                done, pending = await asyncio.wait(pending, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # a citizen's failed expectation fails the test here
            killing.cancel()
            await asyncio.gather(killing, return_exceptions=True)
            await asyncio.gather(*restarts)  # every process running again for the end
            stuck = [c.chat for c, task in zip(telegram + web, tasks) if not task.done()]
            assert not stuck, f"citizens {stuck} got no receipt within {RUN_AT_MOST} s"
            for task in tasks:
                task.result()
            statuses = await _settled(uows, 60)
            assert set(statuses) <= {"sent"}, statuses
    finally:
        for task in tasks + restarts + ([killing] if killing else []):
            task.cancel()
        await nginx.stop()
        for server in servers:
            await server.stop()
        await api.stop()

    async with uows() as uow:
        items = list((await uow.session.execute(select(Item))).scalars())
        outbox = list((await uow.session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())
    await engine.dispose()

    # Receipts: one item each, from the citizen's chat, with the citizen's description; nothing filed twice.
    by_code = {item.tracking_code: item for item in items}
    for citizen in telegram + web:
        assert len(citizen.receipts) == ROUNDS
        for number, code in enumerate(citizen.receipts, 1):
            assert by_code[code].description == description(str(citizen.chat), number)
            if citizen in telegram:
                assert by_code[code].chat_id == str(citizen.chat)
    assert len(items) == ROUNDS * (TELEGRAM_CITIZENS + WEB_CITIZENS)
    assert max(Counter(item.description for item in items).values()) == 1

    # Telegram: every row delivered, in its chat's order, again only if it was in flight at a kill.
    written, delivered = defaultdict(list), defaultdict(list)
    for row in outbox:
        if row.channel == "telegram" and row.payload.get("text"):
            written[int(row.chat_id)].append(row.payload["text"])
    for message in api.delivered:
        if message.text:
            delivered[message.chat_id].append(message.text)
    repeats = 0
    for citizen in telegram:
        ordered, again = in_order(delivered[citizen.chat], written[citizen.chat])
        assert ordered, (citizen.chat, delivered[citizen.chat], written[citizen.chat])
        repeats += again
    assert repeats <= in_flight
    assert api.calls["getUpdates"] == 0  # webhook mode: nobody polls
    assert kills >= 3, "the run was too short to kill anything"
    logs = "".join(server.logs() for server in servers)
    for trouble in (" ERROR ", "Traceback", "after a newer one"):
        assert trouble not in logs, logs[max(0, logs.find(trouble) - 300):logs.find(trouble) + 3000]
    print(f"\n{kills} kills, {len(items)} receipts, {len(outbox)} outbox rows, {in_flight} in flight at kills, "
          f"{repeats} sent again, {time.monotonic() - started:.0f} s")
