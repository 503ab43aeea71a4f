"""A recording fake of the Telegram Bot API, plugged in at python-telegram-bot's request layer.

Every call the bot makes is recorded as ``(method, params)`` (params as python-telegram-bot built
them, from ``RequestData.parameters``) and answered the way the Bot API answers. A test can script
failures for coming calls (429 with retry_after, 403 blocked, 500) and queue updates for polling.
The update builders make the JSON Telegram delivers for a private chat.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT_USER = {"id": 777000, "is_bot": True, "first_name": "tiepdan", "username": "tiepdan_test_bot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}

DESCRIPTIONS = {
    400: "Bad Request: message text is empty",
    403: "Forbidden: bot was blocked by the user",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
}


class RecordingBotAPI(BaseRequest):
    """Stands where python-telegram-bot's HTTP client stands; nothing leaves the process."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []   # every call, answered or failed
        self._failed_at: set[int] = set()                    # positions in ``calls`` that got a failure
        self.urls: list[str] = []
        self._script: dict[str, deque[tuple[int, dict] | None]] = {}
        self._updates: deque[dict] = deque()
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
        params = dict(request_data.parameters) if request_data is not None else {}
        self.urls.append(url)
        self.calls.append((api_method, params))
        scripted = self._script.get(api_method)
        failure = scripted.popleft() if scripted else None
        if failure is not None:
            self._failed_at.add(len(self.calls) - 1)
            status, body = failure
            return status, json.dumps(body).encode()
        result = await self._result(api_method, params)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    async def _result(self, api_method: str, params: dict) -> Any:
        if api_method == "getMe":
            return BOT_USER
        if api_method in ("sendMessage", "sendPhoto"):
            self._message_id += 1
            message = {"message_id": self._message_id, "date": int(time.time()), "from": BOT_USER,
                       "chat": {"id": int(params["chat_id"]), "type": "private", "first_name": "Lan"}}
            if api_method == "sendMessage":
                message["text"] = params["text"]
            else:
                message["photo"] = [{"file_id": str(params["photo"]), "file_unique_id": "p", "width": 1, "height": 1}]
            return message
        if api_method == "getUpdates":
            if not self._updates:
                await asyncio.sleep(0.02)  # a long poll that found nothing, shortened
            updates, self._updates = list(self._updates), deque()
            return updates
        return True  # answerCallbackQuery, setWebhook, deleteWebhook, ...

    # -- scripting ------------------------------------------------------------------------------
    def fail_next(self, api_method: str, *, status: int, retry_after: int | None = None,
                  description: str | None = None, times: int = 1, after: int = 0) -> None:
        """The next ``times`` calls of ``api_method`` (after ``after`` more successful ones) fail."""
        body: dict[str, Any] = {"ok": False, "error_code": status,
                                "description": description or DESCRIPTIONS.get(status, "Error").format(
                                    retry_after=retry_after)}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        script = self._script.setdefault(api_method, deque())
        script.extend([None] * after)
        script.extend([(status, body)] * times)

    def deliver(self, update: dict) -> None:
        """Hand an update to the next getUpdates call (polling)."""
        self._updates.append(update)

    # -- reading what was sent -------------------------------------------------------------------
    @property
    def failed(self) -> list[tuple[str, dict[str, Any]]]:
        """The calls that got a scripted failure."""
        return [call for index, call in enumerate(self.calls) if index in self._failed_at]

    def answered(self, api_method: str) -> list[dict[str, Any]]:
        """Parameters of the calls to ``api_method`` that Telegram accepted."""
        return [params for index, (method, params) in enumerate(self.calls)
                if method == api_method and index not in self._failed_at]

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Messages delivered (to one chat), oldest first."""
        return [p for p in self.answered("sendMessage") if chat_id is None or int(p["chat_id"]) == chat_id]

    def sent_texts(self, chat_id: int | None = None) -> list[str]:
        return [p["text"] for p in self.sent(chat_id)]

    def last_keyboard(self, chat_id: int) -> list[list[tuple[str, str]]]:
        """The inline keyboard under the latest message in the chat, as rows of (label, callback data)."""
        sent = self.sent(chat_id)
        markup = sent[-1].get("reply_markup") if sent else None
        if not markup:
            return []
        return [[(b["text"], b["callback_data"]) for b in row] for row in markup["inline_keyboard"]]

    def count(self, api_method: str) -> int:
        return len(self.answered(api_method))


def _user(user_id: int, language_code: str) -> dict:
    return {"id": user_id, "is_bot": False, "first_name": "Lan", "last_name": "Nguyễn", "language_code": language_code}


def _chat(chat_id: int) -> dict:
    return {"id": chat_id, "type": "private", "first_name": "Lan"}


def _message(update_id: int, chat_id: int, user_id: int | None = None, language_code: str = "vi", **content) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "chat": _chat(chat_id),
        "from": _user(user_id or chat_id, language_code), **content}}


def text_update(update_id: int, chat_id: int, text: str, user_id: int | None = None, language_code: str = "vi") -> dict:
    content: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return _message(update_id, chat_id, user_id, language_code, **content)


def button_update(update_id: int, chat_id: int, data: str, message_id: int = 101, user_id: int | None = None,
                  language_code: str = "vi") -> dict:
    """A press on an inline button under our message ``message_id``."""
    return {"update_id": update_id, "callback_query": {
        "id": f"cq{update_id}", "from": _user(user_id or chat_id, language_code), "chat_instance": "ci",
        "data": data, "message": {"message_id": message_id, "date": int(time.time()), "chat": _chat(chat_id),
                                  "from": BOT_USER, "text": "…"}}}


def sticker_update(update_id: int, chat_id: int, user_id: int | None = None) -> dict:
    return _message(update_id, chat_id, user_id, sticker={
        "file_id": "sticker-1", "file_unique_id": "s1", "width": 512, "height": 512, "is_animated": False,
        "is_video": False, "type": "regular", "emoji": "👍"})


def voice_update(update_id: int, chat_id: int, user_id: int | None = None) -> dict:
    return _message(update_id, chat_id, user_id, voice={
        "file_id": "voice-1", "file_unique_id": "v1", "duration": 3, "mime_type": "audio/ogg"})


def photo_update(update_id: int, chat_id: int, caption: str | None = None, user_id: int | None = None) -> dict:
    sizes = [{"file_id": "photo-small", "file_unique_id": "ps", "width": 90, "height": 67},
             {"file_id": "photo-large", "file_unique_id": "pl", "width": 1280, "height": 960}]
    return _message(update_id, chat_id, user_id, photo=sizes, **({"caption": caption} if caption else {}))


def location_update(update_id: int, chat_id: int, latitude: float = 21.0285, longitude: float = 105.8542,
                    user_id: int | None = None) -> dict:
    return _message(update_id, chat_id, user_id, location={"latitude": latitude, "longitude": longitude})
