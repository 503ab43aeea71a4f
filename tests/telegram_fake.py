"""A recording fake of the Telegram Bot API, plugged in at python-telegram-bot's request layer.

Every call the bot makes is recorded as ``(method, params)`` (params as python-telegram-bot built
them, from ``RequestData.parameters``) and answered the way the Bot API answers. A test can script
failures for coming calls (429 with retry_after, 403 blocked, 500, no answer at all), block a chat
as a citizen blocking the bot does, and queue updates for polling. The update builders make the JSON
Telegram delivers for a private chat, or for a group, supergroup or channel (``chat_type``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from typing import Any

from telegram.error import NetworkError
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
        self._blocked: set[int] = set()   # chats whose citizen blocked the bot
        self._unreachable: dict[str, int] = {}  # method → calls still to fail without an answer
        self._slow: dict[str, float] = {}  # method → seconds its next call takes to be answered

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
        if api_method in self._slow:
            await asyncio.sleep(self._slow.pop(api_method))
        if self._unreachable.get(api_method):
            self._unreachable[api_method] -= 1
            self._failed_at.add(len(self.calls) - 1)
            raise NetworkError("httpx.ConnectError: All connection attempts failed")
        scripted = self._script.get(api_method)
        failure = scripted.popleft() if scripted else None
        if failure is None and api_method in ("sendMessage", "sendPhoto") and int(params["chat_id"]) in self._blocked:
            failure = (403, {"ok": False, "error_code": 403, "description": DESCRIPTIONS[403]})
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

    def unreachable(self, api_method: str, *, times: int = 1) -> None:
        """The next ``times`` calls of ``api_method`` get no answer: the network is down."""
        self._unreachable[api_method] = self._unreachable.get(api_method, 0) + times

    def slow(self, api_method: str, seconds: float) -> None:
        """The next call of ``api_method`` is answered only after ``seconds``."""
        self._slow[api_method] = seconds

    def block(self, chat_id: int) -> None:
        """The citizen of ``chat_id`` blocks the bot: messages to them get 403 until ``unblock``."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

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
        return [[(b["text"], b["callback_data"]) for b in row] for row in markup.get("inline_keyboard", [])]

    def count(self, api_method: str) -> int:
        return len(self.answered(api_method))


def _user(user_id: int, language_code: str) -> dict:
    return {"id": user_id, "is_bot": False, "first_name": "Lan", "last_name": "Nguyễn", "language_code": language_code}


def _chat(chat_id: int, chat_type: str = "private") -> dict:
    if chat_type == "private":
        return {"id": chat_id, "type": "private", "first_name": "Lan"}
    return {"id": chat_id, "type": chat_type, "title": "Tổ dân phố số 3"}


def _message(update_id: int, chat_id: int, user_id: int | None = None, language_code: str = "vi",
             chat_type: str = "private", **content) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "chat": _chat(chat_id, chat_type),
        "from": _user(user_id or chat_id, language_code), **content}}


def text_update(update_id: int, chat_id: int, text: str, user_id: int | None = None, language_code: str = "vi",
                chat_type: str = "private") -> dict:
    content: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return _message(update_id, chat_id, user_id, language_code, chat_type, **content)


def button_update(update_id: int, chat_id: int, data: str, message_id: int = 101, user_id: int | None = None,
                  language_code: str = "vi", chat_type: str = "private") -> dict:
    """A press on an inline button under our message ``message_id`` (in a group: a message of ours
    that reached the group, say forwarded there)."""
    return {"update_id": update_id, "callback_query": {
        "id": f"cq{update_id}", "from": _user(user_id or chat_id, language_code), "chat_instance": "ci",
        "data": data, "message": {"message_id": message_id, "date": int(time.time()),
                                  "chat": _chat(chat_id, chat_type), "from": BOT_USER, "text": "…"}}}


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


def contact_update(update_id: int, chat_id: int, phone_number: str, contact_user_id: int | None,
                   user_id: int | None = None) -> dict:
    """A shared contact card. Telegram names the account the number belongs to in ``user_id``: the
    sender's own id when they shared their own number, another's for a forwarded card, none when the
    number has no Telegram account."""
    contact: dict[str, Any] = {"phone_number": phone_number, "first_name": "Lan"}
    if contact_user_id is not None:
        contact["user_id"] = contact_user_id
    return _message(update_id, chat_id, user_id, contact=contact)
