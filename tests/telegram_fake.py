"""A recording fake of the Telegram Bot API, plugged in at python-telegram-bot's request layer.

Every call the bot would make is recorded as (method, params) and answered the way the Bot API
answers; a test can script failures (429 with retry_after, 403 blocked, 500) for the next calls.
Update builders make the JSON Telegram would deliver.
"""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT_USER = {"id": 777000, "is_bot": True, "first_name": "tiepdan", "username": "tiepdan_test_bot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}


class RecordingBotAPI(BaseRequest):
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.urls: list[str] = []
        self._failures: dict[str, deque] = {}
        self._message_id = 100

    # -- BaseRequest ---------------------------------------------------------------------------
    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout=None, write_timeout=None, connect_timeout=None,
                         pool_timeout=None) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        params = json.loads(request_data.json_payload) if request_data and request_data.json_parameters else {}
        self.urls.append(url)
        failures = self._failures.get(api_method)
        if failures:
            status, body = failures.popleft()
            self.calls.append((api_method + ":failed", params))
            return status, json.dumps(body).encode()
        self.calls.append((api_method, params))
        return 200, json.dumps({"ok": True, "result": self._result(api_method, params)}).encode()

    def _result(self, api_method: str, params: dict) -> Any:
        if api_method == "getMe":
            return BOT_USER
        if api_method in ("sendMessage", "sendPhoto"):
            self._message_id += 1
            chat_id = int(params["chat_id"])
            message = {"message_id": self._message_id, "date": int(time.time()),
                       "chat": {"id": chat_id, "type": "private", "first_name": "Dân"}, "from": BOT_USER}
            if api_method == "sendMessage":
                message["text"] = params["text"]
            else:
                message["photo"] = [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]
            return message
        if api_method == "getUpdates":
            return []
        return True

    # -- scripting ------------------------------------------------------------------------------
    def fail_next(self, api_method: str, *, status: int, retry_after: int | None = None,
                  description: str | None = None, times: int = 1) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": status,
                                "description": description or {429: f"Too Many Requests: retry after {retry_after}",
                                                               403: "Forbidden: bot was blocked by the user",
                                                               500: "Internal Server Error"}.get(status, "Error")}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        for _ in range(times):
            self._failures.setdefault(api_method, deque()).append((status, body))

    # -- reading what was sent ---------------------------------------------------------------------
    def sent(self, chat_id: int | None = None) -> list[dict]:
        return [p for m, p in self.calls if m == "sendMessage" and (chat_id is None or int(p["chat_id"]) == chat_id)]

    def sent_texts(self, chat_id: int | None = None) -> list[str]:
        return [p["text"] for p in self.sent(chat_id)]

    def last_keyboard(self, chat_id: int) -> list[list[tuple[str, str]]]:
        for params in reversed(self.sent(chat_id)):
            markup = params.get("reply_markup")
            if markup:
                markup = json.loads(markup) if isinstance(markup, str) else markup
                return [[(b["text"], b["callback_data"]) for b in row] for row in markup["inline_keyboard"]]
        return []

    def count(self, api_method: str) -> int:
        return sum(1 for m, _ in self.calls if m == api_method)


def _user(user_id: int, language_code: str) -> dict:
    return {"id": user_id, "is_bot": False, "first_name": "Bà", "last_name": "Lan", "language_code": language_code}


def _message(update_id: int, chat_id: int, user_id: int | None, language_code: str, **content) -> dict:
    user_id = user_id or chat_id
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "chat": {"id": chat_id, "type": "private", "first_name": "Bà"},
        "from": _user(user_id, language_code), **content}}


def text_update(update_id: int, chat_id: int, text: str, user_id: int | None = None, language_code: str = "vi"):
    entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] if text.startswith("/") else []
    return _message(update_id, chat_id, user_id, language_code, text=text, entities=entities)


def button_update(update_id: int, chat_id: int, data: str, message_id: int = 1, language_code: str = "vi"):
    return {"update_id": update_id, "callback_query": {
        "id": f"cb{update_id}", "from": _user(chat_id, language_code), "chat_instance": "ci", "data": data,
        "message": {"message_id": message_id, "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private", "first_name": "Bà"}, "text": "menu"}}}


def sticker_update(update_id: int, chat_id: int):
    return _message(update_id, chat_id, None, "vi", sticker={
        "file_id": "s1", "file_unique_id": "s1", "width": 512, "height": 512, "is_animated": False,
        "is_video": False, "type": "regular"})


def voice_update(update_id: int, chat_id: int):
    return _message(update_id, chat_id, None, "vi", voice={"file_id": "v1", "file_unique_id": "v1", "duration": 3})


def photo_update(update_id: int, chat_id: int, caption: str | None = None):
    sizes = [{"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
             {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 960}]
    return _message(update_id, chat_id, None, "vi", photo=sizes, **({"caption": caption} if caption else {}))


def location_update(update_id: int, chat_id: int, latitude: float = 21.0285, longitude: float = 105.8542):
    return _message(update_id, chat_id, None, "vi", location={"latitude": latitude, "longitude": longitude})
