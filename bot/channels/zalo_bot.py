"""The Zalo Bot Platform (channel ``"zalobot"``): a Telegram-like bot API, spoken with aiohttp.

What the platform documents (bot.zaloplatforms.com/docs: call-api, getUpdates, setWebhook,
sendMessage, sendPhoto, webhook, error-code; read through public mirrors of those pages and two open
implementations, OpenClaw's extensions/zalo and python-zalo-bot):

- Every method is ``POST {base}/bot<TOKEN>/<method>`` with a JSON body; the answer is
  ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": n, "description": "..."}``.
  Documented codes: 400 bad request, 401 token invalid, 403 (listed as "internal server error"),
  404 not found, 408 request timeout, 429 quota exceeded. No ``retry_after`` is documented; we honour
  one (``parameters.retry_after``, as on Telegram) or a ``Retry-After`` header if ever sent.
- ``getMe`` checks the token. ``setWebhook`` takes ``url`` (HTTPS) and ``secret_token`` (8–256
  characters), which every webhook call carries back in the ``X-Bot-Api-Secret-Token`` header.
  ``getUpdates`` (long polling, ``timeout`` in seconds as a string) does not work while a webhook is
  set, so polling starts with ``deleteWebhook``. It returns ONE update per call, without an update
  id or an offset: the platform forgets an update once it has handed it out, and a long poll that
  found nothing ends with error 408.
- An update is ``{"event_name": ..., "message": {"message_id", "from": {"id", "display_name",
  "is_bot"}, "chat": {"id", "chat_type": "PRIVATE" | "GROUP"}, "date", "text" | "photo_url" |
  "photo" | "caption" | "sticker" | "url"}}``. The webhook page shows it wrapped as
  ``{"ok": true, "result": update}``; OpenClaw reports deliveries arriving bare — both are read.
  Events: ``message.text.received``, ``message.image.received``, ``message.sticker.received``,
  ``message.unsupported.received`` (sent instead of the content when the law keeps it from the bot).
- ``sendMessage`` {chat_id, text of 1–2000 characters}; ``sendPhoto`` {chat_id, photo: an image URL,
  caption}. There are no keyboards: buttons are written as numbered lines (handlers/numbered.py).

How tiepdan uses it: a redelivery is recognised by the message id (the platform has no update id)
through the pipeline's inbound dedupe; webhook calls are answered 200 at once and processed in a task,
one chat's messages in the order they came. Replies leave through the outbox: photos first, then the
text in parts of at most 2000 characters (counted in UTF-16 units, as a JavaScript server counts, so
an emoji is two); rate limits and server errors are retried, 400/403/404 are recorded as refused.

If the platform cannot be reached when the process starts (``getMe``, ``setWebhook`` or
``deleteWebhook`` failing: the network down, a revoked token), the channel is degraded and tried again
in the background (bot/channels/connection.py) while everything else serves. Webhook deliveries are
still taken (they need nothing from the platform); replies wait in the outbox, without using up
their attempts, until the channel is connected.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.connection import PlatformConnection
from bot.domain.dialog import Incoming, Photo, Reply
from bot.leader import polling_leader
from bot.settings import Settings
from bot.texts import t
from handlers import numbered
from handlers.pipeline import handle_incoming
from scheduler.outbox import DeliveryRefused, DeliveryRetry

log = logging.getLogger(__name__)

CHANNEL = "zalobot"
TEXT_LIMIT = 2000
WEBHOOK_PATH = "/zalobot/webhook"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
POLL_TIMEOUT = 30         # seconds a getUpdates call may wait for an update
REQUEST_TIMEOUT = 20.0    # seconds for any other call
PHOTO_TIMEOUT = 60.0      # sendPhoto: the platform fetches the image before it answers
MAX_WEBHOOK_BODY = 1024 * 1024
REFUSED = {400, 403, 404}  # the message will never be taken: recorded, not retried

numbered.enable(CHANNEL)


class ZaloBotError(Exception):
    """The platform answered ``ok: false``. The message never contains the token."""

    def __init__(self, method: str, code: int, description: str, retry_after: float | None = None):
        super().__init__(f"zalobot {method}: {code} {description}")
        self.code = code
        self.retry_after = retry_after


class ZaloBotUnreachable(Exception):
    """No answer: connection refused, reset or timed out."""

    def __init__(self, method: str, reason: str):
        super().__init__(f"zalobot {method}: {reason}")


class ZaloBotAPI:
    """``call(method, payload)`` → the ``result`` of a successful call."""

    def __init__(self, token: str, base_url: str):
        self._url = f"{base_url.rstrip('/')}/bot{token}/"
        self._session: aiohttp.ClientSession | None = None

    async def call(self, method: str, payload: dict | None = None, *, timeout: float = REQUEST_TIMEOUT):
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(self._url + method, json=payload or {},
                                          timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                status, retry_header = response.status, response.headers.get("Retry-After")
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
        except asyncio.TimeoutError:
            raise ZaloBotUnreachable(method, "timed out") from None
        except aiohttp.ClientError as exc:
            # Only the class name: some aiohttp messages carry the URL, and the URL carries the token.
            raise ZaloBotUnreachable(method, type(exc).__name__) from None
        if isinstance(body, dict) and body.get("ok") is True and status < 400:
            return body.get("result")
        body = body if isinstance(body, dict) else {}
        code = body.get("error_code") if isinstance(body.get("error_code"), int) else status
        retry_after = (body.get("parameters") or {}).get("retry_after") if isinstance(body.get("parameters"), dict) \
            else None
        if retry_after is None and retry_header and retry_header.isdigit():
            retry_after = int(retry_header)
        description = str(body.get("description") or f"HTTP {status}")[:200]
        raise ZaloBotError(method, code, description, float(retry_after) if retry_after is not None else None)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


# -- in: an update becomes an Incoming --------------------------------------------------------------

def unwrap(body) -> dict | None:
    """The update inside a delivery: ``{"ok": true, "result": update}`` as documented, or bare."""
    if not isinstance(body, dict):
        return None
    update = body["result"] if isinstance(body.get("result"), dict) else body
    return update if isinstance(update.get("event_name"), str) else None


def to_incoming(update: dict) -> Incoming | None:
    """The neutral form of an update, or None for what is not a person writing to us privately."""
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    chat_id = chat.get("id")
    if not chat_id or str(chat.get("chat_type") or "PRIVATE").upper() != "PRIVATE" or sender.get("is_bot"):
        return None
    key = message.get("message_id") or hashlib.sha256(
        json.dumps(message, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]
    common = dict(channel=CHANNEL, chat_id=str(chat_id), user_id=str(sender.get("id") or chat_id),
                  update_key=str(key)[:200], display_name=sender.get("display_name") or None)
    event = update.get("event_name")
    if event == "message.text.received" and isinstance(message.get("text"), str):
        return Incoming(**common, text=message["text"])
    if event == "message.image.received":
        url = _photo_url(message)
        caption = message.get("caption") if isinstance(message.get("caption"), str) and message["caption"] else None
        if url:
            return Incoming(**common, photos=(Photo(url, caption),), text=caption)
    if event == "message.sticker.received":
        return Incoming(**common, unsupported="sticker")
    return Incoming(**common, unsupported="other")


def _photo_url(message: dict) -> str | None:
    for key in ("photo_url", "photo", "url"):
        value = message.get(key)
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            return value
    return None


# -- out: a Reply becomes sendPhoto and sendMessage calls ---------------------------------------------

def text_units(text: str) -> int:
    """Length as the platform counts it: UTF-16 code units (an emoji outside the BMP is two)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Parts of at most ``limit`` units, cut at a paragraph or line break where one is near the end."""
    parts: list[str] = []
    while text_units(text) > limit:
        head, units = 0, 0
        while units + (2 if ord(text[head]) > 0xFFFF else 1) <= limit:
            units += 2 if ord(text[head]) > 0xFFFF else 1
            head += 1
        cut = max(text.rfind("\n\n", 0, head), text.rfind("\n", 0, head))
        cut = cut if cut > head // 2 else head
        parts.append(text[:cut].rstrip("\n"))
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return [part for part in parts if part.strip()]


class ZaloBotSender:
    channel = CHANNEL

    def __init__(self, api: ZaloBotAPI, media_base: str | None = None, sign_media=None,
                 connection: PlatformConnection | None = None):
        self.api = api
        self.media_base = media_base  # where /media/<key> of the web chat is reachable from the internet
        self.sign_media = sign_media  # key → the query of a link that works without a session
        self.connection = connection

    def photo_url(self, ref: str) -> str | None:
        """A photo the platform can fetch: a URL as is; a web-chat photo through our public /media/."""
        if ref.startswith(("https://", "http://")):
            return ref
        if ref.startswith("web:") and self.media_base and self.sign_media is not None:
            return f"{self.media_base}/media/{ref[4:]}?{self.sign_media(ref[4:])}"
        return None  # a Telegram file id, or no public address: nothing the platform could fetch

    async def send(self, chat_id: str, reply: Reply, parts_sent: int = 0) -> None:
        """Photos first, then the text in parts; parts delivered by an earlier attempt are skipped."""
        if self.connection is not None and self.connection.unavailable:
            # Not the message's fault: it waits for the channel without using up an attempt.
            raise DeliveryRetry("zalobot: not connected; waiting for the next attempt to connect",
                                after=self.connection.retry_in(), parts_sent=parts_sent)
        photos = [url for url in map(self.photo_url, reply.photos) if url]
        steps = [("sendPhoto", {"chat_id": chat_id, "photo": url}) for url in photos] + [
            ("sendMessage", {"chat_id": chat_id, "text": part}) for part in split_text(reply.text)]
        delivered = parts_sent
        try:
            for method, payload in steps[parts_sent:]:
                await self.api.call(method, payload, timeout=PHOTO_TIMEOUT if method == "sendPhoto" else REQUEST_TIMEOUT)
                delivered += 1
        except ZaloBotUnreachable as exc:
            raise DeliveryRetry(str(exc), parts_sent=delivered) from exc
        except ZaloBotError as exc:
            if exc.code == 429:
                raise DeliveryRetry(str(exc), after=exc.retry_after, parts_sent=delivered) from exc
            if exc.code in REFUSED:
                raise DeliveryRefused(str(exc)) from exc
            raise DeliveryRetry(str(exc), parts_sent=delivered) from exc


# -- the channel: polling or webhook ------------------------------------------------------------------

class ZaloBotChannel:
    def __init__(self, runtime):
        self.runtime = runtime
        self.settings: Settings = runtime.settings
        self.api = ZaloBotAPI(self.settings.zalo_bot_token, self.settings.zalo_bot_base_url)
        self.connection = PlatformConnection("zalo_bot", self._connect, on_connected=self._connected,
                                             describe=_describe)
        self.sender = ZaloBotSender(self.api, media_base=_origin(self.settings.zalo_bot_webhook_url),
                                    sign_media=runtime.web_security.media_query, connection=self.connection)
        self._poller: asyncio.Task | None = None
        self._chats: dict[str, asyncio.Task] = {}  # the latest task of each chat; the next one waits for it
        # Polling: like Telegram's getUpdates, one caller at a time; on PostgreSQL with several processes
        # the one holding the lock polls (bot/leader.py), and a process told not to poll never does.
        polling = self.settings.zalo_bot_mode != "webhook" and getattr(runtime, "poll", True)
        self.polls, self.leader = polling_leader(runtime, CHANNEL, polling, self._start_polling, self._stop_polling)

    async def start(self) -> None:
        """Connect to the platform; if it cannot be reached, the channel is degraded and keeps trying
        in the background. Never raises: the rest of tiepdan serves either way."""
        await self.connection.start()

    async def _connect(self) -> None:
        me = await self.api.call("getMe") or {}
        log.info("zalobot: connected as %s", me.get("account_name") or me.get("id") or "?")
        if self.settings.zalo_bot_mode == "webhook":
            await self.api.call("setWebhook", {"url": self.settings.zalo_bot_webhook_url,
                                               "secret_token": self.settings.zalo_bot_webhook_secret})
        elif self.leader is not None or self.polls:
            await self.api.call("deleteWebhook")  # getUpdates does not work while a webhook is set
            if self.leader is None:
                await self._start_polling()
            elif not self.leader.started:
                await self.leader.start()

    async def _start_polling(self) -> None:
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll(), name="zalobot-polling")

    async def _stop_polling(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None

    def _connected(self) -> None:
        self.runtime.dispatcher.wake()  # what waited for the channel may leave now

    async def stop(self) -> None:
        await self.connection.stop()
        if self.leader is not None:
            await self.leader.stop()
        await self._stop_polling()
        try:
            await asyncio.wait_for(self.idle(), timeout=10)
        except asyncio.TimeoutError:
            for task in self._chats.values():
                task.cancel()
        await self.api.close()

    async def idle(self) -> None:
        """Wait until every update received so far has been processed."""
        while self._chats:
            await asyncio.gather(*self._chats.values(), return_exceptions=True)

    def routes(self) -> list[web.RouteDef]:
        return [web.post(WEBHOOK_PATH, self.webhook)]

    async def webhook(self, request: web.Request) -> web.Response:
        expected = self.settings.zalo_bot_webhook_secret or ""
        given = request.headers.get(SECRET_HEADER, "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            log.warning("zalobot webhook: wrong or missing secret token from %s", request.remote)
            return web.Response(status=401)
        if request.content_length is not None and request.content_length > MAX_WEBHOOK_BODY:
            return web.Response(status=413)
        try:
            update = unwrap(json.loads(await request.text()))
        except ValueError:
            update = None
        if update is None:
            return web.Response(status=400)
        incoming = to_incoming(update)
        if incoming is not None:
            self._schedule(incoming)
        return web.json_response({"message": "Success"})  # at once: the platform must not wait for the flow

    async def _poll(self) -> None:
        pause = 1.0
        while True:
            try:
                result = await self.api.call("getUpdates", {"timeout": str(POLL_TIMEOUT)}, timeout=POLL_TIMEOUT + 10)
            except ZaloBotError as exc:
                if exc.code == 408:
                    continue  # the long poll found nothing
                log.warning("zalobot polling: %s; again in %.0fs", exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 60.0)
                continue
            except ZaloBotUnreachable as exc:
                log.warning("zalobot polling: %s; again in %.0fs", exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 60.0)
                continue
            pause = 1.0
            for body in result if isinstance(result, list) else [result]:
                update = unwrap(body)
                incoming = to_incoming(update) if update is not None else None
                if incoming is not None:
                    self._schedule(incoming)

    def _schedule(self, incoming: Incoming) -> None:
        """Process in a task; a chat's messages one after another, in the order they came."""
        previous = self._chats.get(incoming.chat_id)
        task = asyncio.create_task(self._process_after(previous, incoming))
        self._chats[incoming.chat_id] = task
        task.add_done_callback(lambda done: self._forget(incoming.chat_id, done))

    def _forget(self, chat_id: str, task: asyncio.Task) -> None:
        if self._chats.get(chat_id) is task:
            del self._chats[chat_id]

    async def _process_after(self, previous: asyncio.Task | None, incoming: Incoming) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        try:
            await handle_incoming(incoming, self.runtime.uows, self.settings)
        except (SQLAlchemyError, OSError):
            log.warning("zalobot: database unavailable, asked the user to retry (message %s)", incoming.update_key)
            await self._tell_temporary_failure(incoming)
        except Exception:
            log.exception("zalobot: could not process message %s", incoming.update_key)

    async def _tell_temporary_failure(self, incoming: Incoming) -> None:
        try:
            await self.api.call("sendMessage", {"chat_id": incoming.chat_id,
                                                "text": t(self.settings.default_language.value, "error.temporary")})
        except (ZaloBotError, ZaloBotUnreachable):
            log.warning("zalobot: could not send the temporary-failure notice")


def _describe(error: BaseException) -> str:
    """For the log: the platform's errors as they are (they never carry the token), anything else by
    its kind only."""
    return str(error) if isinstance(error, (ZaloBotError, ZaloBotUnreachable)) else type(error).__name__


def _origin(url: str | None) -> str | None:
    """``https://host[:port]`` of a URL: our public address, for photos the platform must fetch."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None
