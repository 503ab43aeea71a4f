"""Web chat: the commune's page at ``/`` and its small JSON API.

Every browser gets an anonymous chat identity in an HttpOnly cookie. The messages a browser sees are
the outbox rows of its chat, read in order by id, so a reload shows the conversation so far and a
notification written by an officer later arrives through the same long-poll.

    POST /api/chat/send       {"id": client message id, "text": "..."} or {"id": ..., "button": "..."}
                              or {"id": ..., "location": {"latitude": .., "longitude": ..}}
                              optional "after": last message id seen → {"messages": [...], "cursor": n}
    POST /api/chat/photo      multipart: "photo" (JPEG, PNG or WebP), "id", optional "after"
    GET  /api/chat/messages?after=N&wait=25   long-poll for messages after N
    GET  /media/<key>         a stored photo (the key is random and unguessable)
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import defaultdict
from pathlib import Path

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot.domain.dialog import Incoming, Location, Photo, Reply
from bot.texts import t
from handlers.flood import turned_away
from handlers.pipeline import handle_incoming
from storage.models import Attachment

log = logging.getLogger(__name__)

CHANNEL = "web"
COOKIE = "tiepdan_chat"
STATIC = Path(__file__).parent / "static"
MAX_BODY = 64 * 1024
MAX_WAIT_SECONDS = 25
MAX_CURSOR = 2 ** 31 - 1  # outbox ids are 32-bit on PostgreSQL; a larger cursor simply means "nothing newer"
# Recognised by their first bytes, whatever the browser claims.
IMAGE_SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"RIFF", "image/webp"))


def image_type(data: bytes) -> str | None:
    for signature, content_type in IMAGE_SIGNATURES:
        if data.startswith(signature) and (content_type != "image/webp" or data[8:12] == b"WEBP"):
            return content_type
    return None


class WebChatHub:
    """Wakes the long-polls of a chat when the dispatcher has delivered a message to it."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = defaultdict(asyncio.Event)

    def notify(self, chat_id: str) -> None:
        event = self._events.pop(chat_id, None)
        if event is not None:
            event.set()

    async def wait(self, chat_id: str, timeout: float) -> None:
        event = self._events[chat_id]
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            self._events.pop(chat_id, None)


class WebChatSender:
    """The outbox row is the web chat's message log, so sending only wakes the waiting browser."""

    channel = CHANNEL

    def __init__(self, hub: WebChatHub):
        self.hub = hub

    async def send(self, chat_id: str, reply: Reply, parts_sent: int = 0) -> None:
        self.hub.notify(chat_id)


def _browser_language(request: web.Request) -> str:
    return "en" if request.headers.get("Accept-Language", "").lower().startswith("en") else "vi"


def _error(language: str, status: int, key: str, **values) -> web.Response:
    return web.json_response({"error": t(language, key, **values)}, status=status)


def _chat_id(request: web.Request) -> str | None:
    value = request.cookies.get(COOKIE, "")
    return value if 16 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum() else None


def _with_cookie(response: web.StreamResponse, chat_id: str, request: web.Request) -> web.StreamResponse:
    if request.cookies.get(COOKIE) != chat_id:
        response.set_cookie(COOKIE, chat_id, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
                            secure=request.secure)
    return response


def _message(row) -> dict:
    return {"id": row.id, **row.payload}


class WebChat:
    def __init__(self, runtime):
        self.runtime = runtime
        self.hub = WebChatHub()
        self.sender = WebChatSender(self.hub)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.page),
            web.post("/api/chat/send", self.send),
            web.get("/api/chat/messages", self.messages),
            web.post("/api/chat/photo", self.photo),
            web.get("/media/{key}", self.media),
            web.static("/static", STATIC),
        ]

    async def page(self, request: web.Request) -> web.StreamResponse:
        chat_id = _chat_id(request) or secrets.token_urlsafe(18)
        response = web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})
        return _with_cookie(response, chat_id, request)

    async def send(self, request: web.Request) -> web.StreamResponse:
        chat_id = _chat_id(request) or secrets.token_urlsafe(18)
        too_large = request.content_length is not None and request.content_length > MAX_BODY
        raw = b"" if too_large else await request.content.read(MAX_BODY + 1)
        if too_large or len(raw) > MAX_BODY:
            return _error(await self._language(request, chat_id), 413, "error.request_too_large")
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = None
        incoming = _incoming(body, chat_id)
        if incoming is None:
            return _error(await self._language(request, chat_id), 400, "error.bad_request")
        after = body.get("after")
        after = after if isinstance(after, int) and not isinstance(after, bool) else 0
        try:
            await handle_incoming(incoming, self.runtime.uows, self.runtime.settings)
            rows = await self._rows(chat_id, after)
        except (SQLAlchemyError, OSError):
            log.warning("web chat: database unavailable")
            return _error(_browser_language(request), 503, "error.temporary")
        return _with_cookie(self._page_of(rows, after), chat_id, request)

    async def photo(self, request: web.Request) -> web.StreamResponse:
        chat_id = _chat_id(request) or secrets.token_urlsafe(18)
        limit = self.runtime.settings.max_photo_bytes
        language = await self._language(request, chat_id)
        if request.content_length is not None and request.content_length > limit + 64 * 1024:
            return _error(language, 413, "error.photo_too_large", limit=limit // (1024 * 1024))
        try:
            form = await request.post()
        except (ValueError, web.HTTPRequestEntityTooLarge):
            return _error(language, 413, "error.photo_too_large", limit=limit // (1024 * 1024))
        upload, message_id = form.get("photo"), form.get("id")
        if not hasattr(upload, "file") or not isinstance(message_id, str) or not 1 <= len(message_id) <= 64:
            return _error(language, 400, "error.bad_request")
        data = upload.file.read(limit + 1)
        if len(data) > limit:
            return _error(language, 413, "error.photo_too_large", limit=limit // (1024 * 1024))
        content_type = image_type(data)
        if content_type is None:
            return _error(language, 415, "error.photo_type")
        after = form.get("after", "0")
        after = int(after) if isinstance(after, str) and after.isascii() and after.isdigit() and len(after) < 19 else 0
        key = secrets.token_urlsafe(24)
        incoming = Incoming(CHANNEL, chat_id, chat_id, f"{chat_id}:{message_id}", photos=(Photo(f"web:{key}"),))
        try:
            # A flood of uploads is turned away before anything is stored, not after 5 MB each.
            if not await turned_away(incoming, self.runtime.uows, self.runtime.settings):
                async with self.runtime.uows() as uow:
                    uow.session.add(Attachment(key=key, content_type=content_type, data=data, size=len(data),
                                               channel=CHANNEL, chat_id=chat_id))
                    await uow.commit()
                await handle_incoming(incoming, self.runtime.uows, self.runtime.settings, flood_checked=True)
            rows = await self._rows(chat_id, after)
        except (SQLAlchemyError, OSError):
            log.warning("web chat: could not store a photo")
            return _error(language, 503, "error.temporary")
        return _with_cookie(self._page_of(rows, after), chat_id, request)

    async def media(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        try:
            async with self.runtime.uows() as uow:
                attachment = (await uow.session.execute(select(Attachment).where(Attachment.key == key))
                              ).scalar_one_or_none()
        except (SQLAlchemyError, OSError):
            return web.Response(status=503)
        if attachment is None:
            raise web.HTTPNotFound()
        return web.Response(body=attachment.data, content_type=attachment.content_type,
                            headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"})

    async def _language(self, request: web.Request, chat_id: str) -> str:
        """The language the citizen chose in the chat; the browser's when unknown or unreachable."""
        try:
            async with self.runtime.uows() as uow:
                user = await uow.users.by_channel_identity(CHANNEL, chat_id)
        except (SQLAlchemyError, OSError):
            user = None
        return user.language if user is not None else _browser_language(request)

    async def messages(self, request: web.Request) -> web.StreamResponse:
        chat_id = _chat_id(request)
        if chat_id is None:
            # A new browser has no history yet; give it its identity so its next poll can wait.
            response = web.json_response({"messages": [], "cursor": 0})
            return _with_cookie(response, secrets.token_urlsafe(18), request)
        try:
            after = max(0, int(request.query.get("after", "0")))
            wait = min(MAX_WAIT_SECONDS, max(0.0, float(request.query.get("wait", "0"))))
        except ValueError:
            return _error(await self._language(request, chat_id), 400, "error.bad_request")
        try:
            rows = await self._rows(chat_id, after)
            deadline = asyncio.get_running_loop().time() + wait
            while not rows and (remaining := deadline - asyncio.get_running_loop().time()) > 0:
                # Woken by this process's dispatcher; polling also catches another process's writes.
                await self.hub.wait(chat_id, min(remaining, 2.0))
                rows = await self._rows(chat_id, after)
        except (SQLAlchemyError, OSError):
            return _error(_browser_language(request), 503, "error.temporary")
        return self._page_of(rows, after)

    async def _rows(self, chat_id: str, after: int) -> list[dict]:
        async with self.runtime.uows() as uow:
            return [_message(row) for row in await uow.outbox.for_chat(CHANNEL, chat_id, min(after, MAX_CURSOR))]

    @staticmethod
    def _page_of(messages: list[dict], after: int) -> web.Response:
        return web.json_response({"messages": messages, "cursor": messages[-1]["id"] if messages else after})


def _storable(value) -> bool:
    """A string a database can keep: JSON may carry lone surrogates ("\\ud800"), which UTF-8 cannot."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _incoming(body, chat_id: str) -> Incoming | None:
    if not isinstance(body, dict):
        return None
    message_id = body.get("id")
    if not isinstance(message_id, str) or not (1 <= len(message_id) <= 64) or not _storable(message_id):
        return None
    text, button, location = body.get("text"), body.get("button"), body.get("location")
    if isinstance(location, dict):
        latitude, longitude = location.get("latitude"), location.get("longitude")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (latitude, longitude)):
            return None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            return None
        return Incoming(CHANNEL, chat_id, chat_id, f"{chat_id}:{message_id}",
                        location=Location(float(latitude), float(longitude)))
    if button is not None:
        if not isinstance(button, str) or not _storable(button) or len(button.encode()) > 64:
            return None
        return Incoming(CHANNEL, chat_id, chat_id, f"{chat_id}:{message_id}", button=button)
    if isinstance(text, str) and _storable(text):
        return Incoming(CHANNEL, chat_id, chat_id, f"{chat_id}:{message_id}", text=text)
    return None
