"""A local fake of the Zalo Bot Platform: an aiohttp server on 127.0.0.1 that checks requests the way
the platform documents them and records what the bot sent.

- ``POST /bot<TOKEN>/<method>``: a wrong token gets 401, an unknown method 404, each with the
  platform's error body ``{"ok": false, "error_code": n, "description": "..."}``.
- Payloads are checked: ``chat_id`` of a chat that has written to the bot, ``text`` of 1–2000
  characters (UTF-16 units), ``photo`` an http(s) URL, ``secret_token`` of 8–256 characters, the
  webhook URL HTTPS, ``timeout`` of getUpdates a string of seconds (as documented).
- ``getUpdates`` hands out one update per call, none while a webhook is set, and ends an empty long
  poll with error 408; ``queue(update)`` gives the next call something to return.
- ``deliver(client, update)`` posts an update to our webhook with the ``X-Bot-Api-Secret-Token`` that
  the bot registered through ``setWebhook``, as the platform would.
- ``fail_next(method, code, ...)`` scripts failures for coming calls (429, 403, 500, ...).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from typing import Any

from aiohttp import web

TOKEN = "1459232241454765289:tiepdan-test-token"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
TEXT_LIMIT = 2000
BOT = {"id": "1459232241454765289", "account_name": "bot.tiepdan", "account_type": "BASIC", "can_join_groups": False}
DESCRIPTIONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                408: "Request timeout", 429: "Quota exceeded", 500: "Internal Server Error"}

message_ids = itertools.count(1)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeZaloBotPlatform:
    def __init__(self, token: str = TOKEN):
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []   # every call with a valid token, answered or not
        self.failed_at: set[int] = set()                     # positions in ``calls`` answered with an error
        self.wrong_token_calls = 0
        self.webhook: dict[str, str] | None = None
        self.known_chats: set[str] = set()
        self.poll_wait = 30.0   # how long an empty getUpdates waits before its 408 (tests shorten it)
        self._updates: asyncio.Queue[dict] = asyncio.Queue()
        self._script: dict[str, deque[tuple[int, int, dict] | None]] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- server ---------------------------------------------------------------------------------------
    async def start(self) -> "FakeZaloBotPlatform":
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            self.wrong_token_calls += 1
            return _error(401, "Unauthorized: invalid bot token")
        method = request.match_info["method"]
        payload: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                return _error(400, "Bad Request: body is not JSON")
            if not isinstance(body, dict):
                return _error(400, "Bad Request: body is not an object")
            payload.update(body)
        self.calls.append((method, payload))
        index = len(self.calls) - 1  # long polls overlap other calls: remember which one this is
        scripted = self._script.get(method)
        failure = scripted.popleft() if scripted else None
        if failure is not None:
            self.failed_at.add(index)
            http_status, code, extra = failure
            return _error(code, extra.pop("description", DESCRIPTIONS.get(code, "Error")), http_status, **extra)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            self.failed_at.add(index)
            return _error(404, f"Not Found: method {method}")
        outcome = await handler(payload)
        if isinstance(outcome, web.Response):
            self.failed_at.add(index)
            return outcome
        return web.json_response({"ok": True, "result": outcome})

    # -- the methods ----------------------------------------------------------------------------------
    async def _api_getMe(self, payload: dict) -> Any:
        return BOT

    async def _api_setWebhook(self, payload: dict) -> Any:
        url, secret = payload.get("url"), payload.get("secret_token")
        if not isinstance(url, str) or not url.startswith("https://"):
            return _error(400, "Bad Request: url must be HTTPS")
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            return _error(400, "Bad Request: secret_token must be 8-256 characters")
        self.webhook = {"url": url, "secret_token": secret}
        return {"url": url, "updated_at": int(time.time() * 1000)}

    async def _api_deleteWebhook(self, payload: dict) -> Any:
        self.webhook = None
        return {"url": "", "updated_at": int(time.time() * 1000)}

    async def _api_getWebhookInfo(self, payload: dict) -> Any:
        return {"url": self.webhook["url"] if self.webhook else "", "updated_at": int(time.time() * 1000)}

    async def _api_getUpdates(self, payload: dict) -> Any:
        if self.webhook is not None:
            return _error(400, "Bad Request: getUpdates is not available while a webhook is set")
        timeout = payload.get("timeout", "30")
        if not isinstance(timeout, str) or not timeout.isdigit():
            return _error(400, "Bad Request: timeout must be a string of seconds")
        try:
            return await asyncio.wait_for(self._updates.get(), min(float(timeout), self.poll_wait))
        except asyncio.TimeoutError:
            return _error(408, "Request timeout")

    async def _api_sendMessage(self, payload: dict) -> Any:
        problem = self._check_chat(payload) or _check_text(payload.get("text"), "text")
        return problem or self._sent()

    async def _api_sendPhoto(self, payload: dict) -> Any:
        photo, caption = payload.get("photo"), payload.get("caption")
        problem = self._check_chat(payload)
        if problem is None and (not isinstance(photo, str) or not photo.startswith(("https://", "http://"))):
            problem = _error(400, "Bad Request: photo must be an image URL")
        if problem is None and caption is not None:
            problem = _check_text(caption, "caption")
        return problem or self._sent()

    def _check_chat(self, payload: dict) -> web.Response | None:
        chat_id = payload.get("chat_id")
        if not isinstance(chat_id, str) or not chat_id:
            return _error(400, "Bad Request: chat_id is required")
        if chat_id not in self.known_chats:
            return _error(400, "Bad Request: chat not found")
        return None

    def _sent(self) -> dict:
        return {"message_id": f"{next(message_ids):020x}", "date": int(time.time() * 1000)}

    # -- scripting ------------------------------------------------------------------------------------
    def fail_next(self, method: str, code: int, *, http_status: int | None = None, times: int = 1, after: int = 0,
                  description: str | None = None, retry_after: int | None = None) -> None:
        """The next ``times`` calls of ``method`` (after ``after`` successful ones) get the error body with
        ``code``; the HTTP status is the same code unless ``http_status`` says otherwise."""
        extra: dict[str, Any] = {}
        if description is not None:
            extra["description"] = description
        if retry_after is not None:
            extra["parameters"] = {"retry_after": retry_after}
        script = self._script.setdefault(method, deque())
        script.extend([None] * after)
        script.extend([(http_status or code, code, dict(extra)) for _ in range(times)])

    # -- updates, as the platform sends them ------------------------------------------------------------
    def message(self, chat_id: str, event_name: str, *, message_id: str | None = None, display_name: str = "Lan",
                **content) -> dict:
        """An update ``{"event_name", "message"}`` from a person in a private chat (chat id = user id)."""
        self.known_chats.add(chat_id)
        return {"event_name": event_name, "message": {
            "from": {"id": chat_id, "display_name": display_name, "is_bot": False},
            "chat": {"id": chat_id, "chat_type": "PRIVATE"},
            "message_id": message_id or f"{next(message_ids):020x}", "date": int(time.time() * 1000), **content}}

    def text(self, chat_id: str, text: str, **kw) -> dict:
        return self.message(chat_id, "message.text.received", text=text, **kw)

    def image(self, chat_id: str, url: str, caption: str | None = None, **kw) -> dict:
        return self.message(chat_id, "message.image.received", photo_url=url,
                            **({"caption": caption} if caption else {}), **kw)

    def sticker(self, chat_id: str, **kw) -> dict:
        return self.message(chat_id, "message.sticker.received", sticker="0e078a2fb66a5f34067b",
                            url="https://zalo-api.zadn.vn/sticker.png", **kw)

    def queue(self, update: dict) -> None:
        """The next getUpdates call returns ``update`` (as ``{"ok": true, "result": update}``)."""
        self._updates.put_nowait(update)

    async def deliver(self, client, update: dict, *, secret: str | None = None, wrapped: bool = True):
        """POST ``update`` to the webhook the bot registered, with the secret header it registered."""
        assert self.webhook is not None, "the bot has not called setWebhook"
        path = "/" + self.webhook["url"].split("://", 1)[1].split("/", 1)[1]
        headers = {SECRET_HEADER: self.webhook["secret_token"] if secret is None else secret}
        if secret == "":
            headers = {}
        body = {"ok": True, "result": update} if wrapped else update
        return await client.post(path, json=body, headers=headers)

    # -- what the bot sent ----------------------------------------------------------------------------------
    def answered(self, method: str) -> list[dict[str, Any]]:
        return [p for i, (m, p) in enumerate(self.calls) if m == method and i not in self.failed_at]

    def texts(self, chat_id: str) -> list[str]:
        return [p["text"] for p in self.answered("sendMessage") if p["chat_id"] == chat_id]

    def photos(self, chat_id: str) -> list[str]:
        return [p["photo"] for p in self.answered("sendPhoto") if p["chat_id"] == chat_id]

    def count(self, method: str) -> int:
        return sum(1 for m, _ in self.calls if m == method)


def _check_text(value, name: str) -> web.Response | None:
    if not isinstance(value, str) or not 1 <= utf16_units(value) <= TEXT_LIMIT:
        return _error(400, f"Bad Request: {name} must be 1-{TEXT_LIMIT} characters")
    return None


def _error(code: int, description: str, http_status: int | None = None, **extra) -> web.Response:
    return web.json_response({"ok": False, "error_code": code, "description": description, **extra},
                             status=http_status or code)
