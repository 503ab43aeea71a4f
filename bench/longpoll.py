"""Long-poll wake-up: how soon a web chat hears of a delivered message while thousands of browsers wait.

    python3 -m bench.longpoll [--polls 5000] [--wakes 200] [--database sqlite|postgresql]

A real server (the runtime's web app on ``BoundedSite``, as ``serve`` runs it) and ``--polls``
browsers each holding ``GET /api/chat/messages?wait=25`` open over their own connection (each with
its own address, as a proxy would forward it). Then messages are delivered to ``--wakes`` of those
chats one at a time, through the outbox and the dispatcher as an officer's notice is, and the time
from the commit to the browser having the message is measured. The baseline is the same with one
browser waiting. Also counted: the database reads the waiting polls make while nothing happens
(before this change every open poll read every 2 s: 2,500 reads a second for 5,000 polls).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from bench.common import DATABASES, DatabaseUnavailable, Table, database, percentile, run_alone
from bot.domain.dialog import Reply
from bot.web_server import BoundedSite, raise_file_limit

IDLE_SECONDS = 5.0


@dataclass
class Options:
    polls: int = 5000
    wakes: int = 200
    databases: tuple[str, ...] = DATABASES

    @classmethod
    def quick(cls) -> "Options":
        return cls(polls=200, wakes=20)


async def _measure(url: str, polls: int, wakes: int) -> dict:
    from bot.app import Runtime
    from bot.settings import Settings

    settings = Settings(database_url=url, trust_proxy=True, flood_address_burst=1_000_000, _env_file=None)
    runtime = Runtime(settings, run_scheduler=False)
    await runtime.start(migrate=False)
    runner = web.AppRunner(runtime.web_app, access_log=None, shutdown_timeout=0.5, keepalive_timeout=60)
    await runner.setup()
    site = BoundedSite(runner, "127.0.0.1", 0, max_connections=polls + 100)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    reads = [0]
    read = runtime.web_chat._rows

    async def counted(chat_id, after):
        reads[0] += 1
        return await read(chat_id, after)

    runtime.web_chat._rows = counted
    security = runtime.web_security
    chats = [secrets.token_urlsafe(18) for _ in range(max(polls, wakes))]
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as client:
            async def wait(n: int, chat: str) -> float:
                headers = {"Cookie": f"tiepdan_chat={security.sign(chat)}",
                           "X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"}
                async with client.get(f"http://127.0.0.1:{port}/api/chat/messages",
                                      params={"after": "0", "wait": "25"}, headers=headers) as response:
                    await response.read()
                    return time.perf_counter()

            async def all_waiting(count: int) -> int:
                """Until ``count`` polls have read their chat once and wait (they queue for the database)."""
                deadline = time.monotonic() + 60
                while (len(runtime.web_chat.hub.open_by_chat) < count or reads[0] < count) \
                        and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                return len(runtime.web_chat.hub.open_by_chat)

            # The ones that stay open all along; with one, each wake gets a fresh waiting browser.
            opening = time.perf_counter()
            tasks = {chat: asyncio.create_task(wait(n, chat)) for n, chat in enumerate(chats[:polls])}
            waiting = await all_waiting(polls)
            opened_in = time.perf_counter() - opening
            reads[0] = 0
            await asyncio.sleep(IDLE_SECONDS)
            idle_reads = reads[0] / IDLE_SECONDS
            latencies = []
            for n in range(wakes):
                chat = chats[n]
                if chat not in tasks:
                    reads[0] = 0
                    tasks[chat] = asyncio.create_task(wait(n, chat))
                    await all_waiting(1)
                started = time.perf_counter()
                async with runtime.uows() as uow:
                    await uow.outbox.enqueue("web", chat, Reply("Hồ sơ của bạn đã được thụ lý."),
                                             dedupe_key=f"bench:wake:{n}")
                    await uow.commit()
                latencies.append((await tasks[chat]) - started)
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
    finally:
        await runner.cleanup()
        await runtime.stop()
    return {"waiting": waiting, "opened_in": opened_in, "idle_reads": idle_reads,
            "p50": percentile(latencies, 50) * 1000,
            "p99": percentile(latencies, 99) * 1000}


async def run(options: Options) -> list[Table]:
    file_limit = raise_file_limit()
    polls = min(options.polls, (file_limit - 256) // 2)  # each poll holds a client and a server socket
    table = Table("longpoll", "Long-poll wake-up: a delivered message reaches a waiting browser",
                  ["database", "polls open", "all open in s", "wake p50 ms", "wake p99 ms", "p99 vs 1 poll",
                   "reads/s while idle"])
    folder = tempfile.mkdtemp(prefix="tiepdan-bench-")
    for kind in options.databases:
        try:
            figures = {}
            for count in (1, polls):
                async with database(kind, folder) as url:
                    figures[count] = await _measure(url, count, options.wakes)
        except DatabaseUnavailable as exc:
            table.add(kind, str(exc), "", "", "", "", "")
            continue
        base = figures[1]["p99"]
        for count in (1, polls):
            f = figures[count]
            table.add(kind, f["waiting"], f["opened_in"], f["p50"], f["p99"], f["p99"] / base if base else 0.0,
                      f["idle_reads"])
        table.figures[kind] = {"baseline_p99_ms": base, "p99_ms": figures[polls]["p99"],
                               "waiting": figures[polls]["waiting"], "idle_reads_per_s": figures[polls]["idle_reads"]}
    table.notes += [f"{polls} browsers, each on its own connection and address, hold GET /api/chat/messages?wait=25; "
                    f"{options.wakes} of them get a message one after another (outbox → dispatcher → wake). "
                    "Baseline: one browser waiting. Target: every poll woken, p99 well under a second, "
                    "and no reads while nothing happens (before: each poll read every 2 s).",
                    f"Open-file limit {file_limit}; {os.cpu_count()} cores shared by the server and the browsers."]
    return [table]


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python3 -m bench.longpoll", description=__doc__.split("\n")[0])
    parser.add_argument("--polls", type=int, default=Options.polls)
    parser.add_argument("--wakes", type=int, default=Options.wakes)
    parser.add_argument("--database", choices=DATABASES, action="append")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    return Options(args.polls, args.wakes, tuple(args.database or DATABASES)), args


if __name__ == "__main__":
    run_alone(_parse, run, None)
