"""Telegram polling with three real ``serve`` processes on one PostgreSQL: exactly one polls.

The fake Bot API (bench/fake_bot_api.py, confirming an update only when a later getUpdates' offset
passes it, as Telegram does) records every getUpdates call that is open at once from a connection
that is still alive: a long poll of a killed process whose socket is gone does not count. The
process that polls is found through its metrics (``tiepdan_polling_leader``) and SIGKILLed, three
times, while citizens keep writing; another takes over within seconds, the killed one comes back as
a follower, and every update gets its answer.
"""

from __future__ import annotations

import asyncio
import sys
import time

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.fake_bot_api import FakeBotAPI
from bot.texts import t
from bench.scale_out import Serve, serve_env

PROCESSES = 3
KILLS = 3
CHATS = range(7_300_000, 7_300_012)
WELCOME = t("vi", "start.welcome")
TAKEOVER = 15.0  # seconds: the leader's lock is freed at its death and the others try every 2 s

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")


class Pollers(FakeBotAPI):
    """Counts how many getUpdates calls from live connections are open at once."""

    def __init__(self) -> None:
        super().__init__(enforce=False)
        self.open: dict[int, object] = {}  # id → request (a request is a mapping, not hashable)
        self.most_at_once = 0
        self.polls: list[tuple[float, int]] = []  # (when, peer port) of each getUpdates

    async def _handle(self, request):
        if request.match_info["method"] != "getUpdates":
            return await super()._handle(request)
        self.open = {key: r for key, r in self.open.items() if r.transport is not None and not r.transport.is_closing()}
        self.open[id(request)] = request
        self.most_at_once = max(self.most_at_once, len(self.open))
        self.polls.append((time.monotonic(), request.transport.get_extra_info("peername")[1]))
        try:
            return await super()._handle(request)
        finally:
            self.open.pop(id(request), None)

    def say(self, update_id: int, chat: int, words: str) -> None:
        self.deliver({"update_id": update_id, "message": {
            "message_id": update_id, "date": int(time.time()), "text": words,
            "chat": {"id": chat, "type": "private", "first_name": "Lan"},
            "from": {"id": chat, "is_bot": False, "first_name": "Lan", "language_code": "vi"},
            "entities": [{"type": "bot_command", "offset": 0, "length": len(words)}]}})


def welcomed(api: FakeBotAPI, chat: int) -> int:
    """How many times the chat got the greeting that answers /start."""
    return sum(d.chat_id == chat and d.text == WELCOME for d in api.delivered)


async def leading(servers: list[Serve]) -> list[Serve]:
    """The processes whose metrics say they poll now."""
    found = []
    async with aiohttp.ClientSession() as session:
        for server in servers:
            if not server.alive:
                continue
            try:
                async with session.get(f"http://127.0.0.1:{server.metrics_port}/metrics") as response:
                    body = await response.text()
            except aiohttp.ClientError:
                continue
            for family in text_string_to_metric_families(body):
                if any(s.name == "tiepdan_polling_leader" and s.value == 1 for s in family.samples):
                    found.append(server)
    return found


async def until_one_leads(servers: list[Serve], seconds: float) -> Serve:
    deadline = time.monotonic() + seconds
    while True:
        found = await leading(servers)
        assert len(found) <= 1, "two processes say they poll"
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no process took over polling within {seconds} s"
        await asyncio.sleep(0.1)


async def test_one_of_three_processes_polls_and_another_takes_over_when_it_is_killed(db_url, tmp_path):
    if not db_url.startswith("postgresql"):
        pytest.skip("several serve processes share a database only on PostgreSQL")
    api = Pollers()
    await api.start()
    env = serve_env(db_url, TIEPDAN_TELEGRAM_TOKEN="123:ABC", TIEPDAN_TELEGRAM_BASE_URL=api.base_url,
                    TIEPDAN_TELEGRAM_MODE="polling")
    servers = [Serve(env, tmp_path / f"serve-{n}") for n in range(PROCESSES)]
    update_id = 500_000
    takeovers = []
    try:
        for server in servers:
            await server.start()
        for kill in range(KILLS + 1):
            leader = await until_one_leads(servers, TAKEOVER)
            for chat in CHATS:
                update_id += 1
                api.say(update_id, chat, "/start")
            if kill == KILLS:
                break
            await leader.kill()
            killed_at = time.monotonic()
            await until_one_leads(servers, TAKEOVER)
            takeovers.append(time.monotonic() - killed_at)
            await leader.start()  # back, as a follower
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(welcomed(api, chat) >= KILLS + 1 for chat in CHATS):
            await asyncio.sleep(0.1)
    finally:
        for server in servers:
            await server.stop()
        await api.stop()

    assert api.most_at_once == 1, "two processes polled Telegram at the same time"
    assert len(takeovers) == KILLS and max(takeovers) < TAKEOVER
    for chat in CHATS:  # every /start answered (a reply in flight at a kill may come twice)
        assert welcomed(api, chat) >= KILLS + 1, (chat, [d.text[:40] for d in api.delivered if d.chat_id == chat])
    logs = "".join(server.logs() for server in servers)
    assert " ERROR " not in logs and "Traceback" not in logs, logs[-3000:]
    print(f"\ntakeovers after a kill: {', '.join(f'{s:.1f} s' for s in takeovers)}; "
          f"{len({port for _, port in api.polls})} polling connections over the run")
