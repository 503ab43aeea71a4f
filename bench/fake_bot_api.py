"""A local fake of the Telegram Bot API over HTTP (aiohttp, 127.0.0.1) that enforces Telegram's flood limits.

python-telegram-bot talks to it exactly as to Telegram when ``TIEPDAN_TELEGRAM_BASE_URL`` points
here (``/bot<token>/<method>``, form-encoded parameters, JSON answers). Limits on messages
(sendMessage, sendPhoto), strictly:

- overall: at most ``overall_per_second`` messages accepted in any sliding one-second window;
- per chat: at least ``per_chat_interval`` seconds between two messages accepted for one chat.

A message over either limit is refused with HTTP 429 and ``parameters.retry_after`` (whole seconds,
as Telegram sends it) and is not delivered. getUpdates serves a queue the benchmark fills, with long
polling, so a real ``tiepdan serve`` can poll it.

Benchmarks run it as a process of its own (``FakeBotAPIProcess``: ``python3 -m bench.fake_bot_api``),
as Telegram is: its clock and event loop are then not slowed by the process under test. The
benchmark talks to it on ``/_bench/...``: queue updates, read what was delivered and refused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass

from aiohttp import web

BOT_USER = {"id": 777000, "is_bot": True, "first_name": "tiepdan", "username": "tiepdan_bench_bot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}
MESSAGE_METHODS = ("sendMessage", "sendPhoto")


@dataclass
class Delivered:
    at: float          # time.monotonic() when accepted
    chat_id: int
    text: str


class FakeBotAPI:
    def __init__(self, *, overall_per_second: int = 30, per_chat_interval: float = 1.0, enforce: bool = True,
                 clock=time.monotonic):
        self.overall_per_second = overall_per_second
        self.per_chat_interval = per_chat_interval
        self.enforce = enforce
        self.clock = clock
        self.delivered: list[Delivered] = []
        self.refused = Counter()                       # reason ("overall", "per_chat") → 429s answered
        self.calls = Counter()                         # method → calls
        self._window: deque[float] = deque()           # accepted messages in the last second
        self._last_in_chat: dict[int, float] = {}
        self._updates: deque[dict] = deque()
        self._arrived = asyncio.Event()
        self._message_id = 1000
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- serving -----------------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_post("/_bench/updates", self._queue_updates)
        app.router.add_get("/_bench/stats", self._stats)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self.base_url

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls[method] += 1
        params = await _parameters(request)
        if method == "getUpdates":
            return _ok(await self._get_updates(params))
        if method == "getMe":
            return _ok(BOT_USER)
        if method in MESSAGE_METHODS:
            return self._send(method, params)
        return _ok(True)  # answerCallbackQuery, deleteWebhook, setWebhook, ...

    def _send(self, method: str, params: dict) -> web.Response:
        chat_id = int(params["chat_id"])
        now = self.clock()
        while self._window and now - self._window[0] >= 1.0:
            self._window.popleft()
        if self.enforce:
            if len(self._window) >= self.overall_per_second:
                return self._too_many("overall", self._window[0] + 1.0 - now)
            last = self._last_in_chat.get(chat_id)
            if last is not None and now - last < self.per_chat_interval:
                return self._too_many("per_chat", last + self.per_chat_interval - now)
        self._window.append(now)
        self._last_in_chat[chat_id] = now
        text = str(params.get("text") or params.get("caption") or "")
        self.delivered.append(Delivered(now, chat_id, text))
        self._message_id += 1
        message = {"message_id": self._message_id, "date": int(time.time()), "from": BOT_USER,
                   "chat": {"id": chat_id, "type": "private", "first_name": "Lan"}}
        if method == "sendMessage":
            message["text"] = text
        else:
            message["photo"] = [{"file_id": str(params.get("photo")), "file_unique_id": "p", "width": 1, "height": 1}]
        return _ok(message)

    def _too_many(self, reason: str, wait: float) -> web.Response:
        self.refused[reason] += 1
        retry_after = max(1, math.ceil(wait))
        return web.json_response({"ok": False, "error_code": 429,
                                  "description": f"Too Many Requests: retry after {retry_after}",
                                  "parameters": {"retry_after": retry_after}}, status=429)

    async def _get_updates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        while self._updates and self._updates[0]["update_id"] < offset:
            self._updates.popleft()  # confirmed by the offset
        if not self._updates:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout=min(float(params.get("timeout") or 0), 10.0))
            except asyncio.TimeoutError:
                pass
        limit = int(params.get("limit") or 100)
        return list(self._updates)[:limit]

    async def _queue_updates(self, request: web.Request) -> web.Response:
        for update in await request.json():
            self.deliver(update)
        return web.json_response({"queued": self.queued})

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({"delivered": [[d.at, d.chat_id, d.text] for d in self.delivered],
                                  "refused": dict(self.refused), "calls": dict(self.calls), "queued": self.queued})

    # -- the benchmark's side ------------------------------------------------------------------------
    def deliver(self, update: dict) -> None:
        """Queue an update for the next getUpdates."""
        self._updates.append(update)
        self._arrived.set()

    @property
    def queued(self) -> int:
        return len(self._updates)

    def rejected(self) -> int:
        return sum(self.refused.values())


async def _parameters(request: web.Request) -> dict:
    """python-telegram-bot sends form fields (nested values JSON-encoded) or, for files, multipart."""
    if request.content_type == "application/json":
        return await request.json()
    if request.method == "GET":
        return dict(request.query)
    form = await request.post()
    params = {}
    for key, value in form.items():
        if isinstance(value, str) and value[:1] in "[{":
            try:
                value = json.loads(value)
            except ValueError:
                pass
        params[key] = value
    return params


def _ok(result) -> web.Response:
    return web.json_response({"ok": True, "result": result})


class FakeBotAPIProcess:
    """The fake in a child process: ``start()`` returns its base URL; ``stats()`` and ``deliver()``
    talk to its /_bench routes."""

    def __init__(self, *, overall_per_second: int = 30, per_chat_interval: float = 1.0, enforce: bool = True):
        self.args = ["--overall", str(overall_per_second), "--per-chat", str(per_chat_interval)]
        if not enforce:
            self.args.append("--no-limits")
        self.process: asyncio.subprocess.Process | None = None
        self.base_url = ""

    async def start(self) -> str:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.fake_bot_api", *self.args, cwd=root, stdout=asyncio.subprocess.PIPE)
        line = (await asyncio.wait_for(self.process.stdout.readline(), timeout=30)).decode()
        if not line.startswith("port "):
            raise RuntimeError(f"the fake Bot API did not start: {line!r}")
        self.base_url = f"http://127.0.0.1:{int(line.split()[1])}"
        return self.base_url

    async def _call(self, method: str, path: str, payload=None):
        import aiohttp

        async with aiohttp.ClientSession() as session:
            async with session.request(method, self.base_url + path, json=payload) as response:
                response.raise_for_status()
                return await response.json()

    async def stats(self) -> dict:
        """delivered: [[monotonic seconds, chat id, text], ...]; refused: {limit: 429s}; calls; queued."""
        return await self._call("GET", "/_bench/stats")

    async def deliver(self, updates: list[dict]) -> int:
        """Queue updates for getUpdates; returns how many are waiting."""
        return (await self._call("POST", "/_bench/updates", updates))["queued"]

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()
        self.process = None


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeBotAPI(overall_per_second=args.overall, per_chat_interval=args.per_chat, enforce=not args.no_limits)
    await fake.start()
    print(f"port {fake.port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    import signal

    parser = argparse.ArgumentParser(prog="python3 -m bench.fake_bot_api", description=__doc__.split("\n")[0])
    parser.add_argument("--overall", type=int, default=30, help="messages in any one-second window")
    parser.add_argument("--per-chat", type=float, default=1.0, help="seconds between two messages to one chat")
    parser.add_argument("--no-limits", action="store_true", help="accept everything")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        asyncio.run(_serve(args))
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
