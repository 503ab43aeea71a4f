"""Telegram through python-telegram-bot: one factory builds the Application; updates become
``Incoming`` values; replies leave through the outbox as messages with inline keyboards.

Polling or webhook. In webhook mode our aiohttp app serves the endpoint and checks the
``X-Telegram-Bot-Api-Secret-Token`` header with a constant-time compare.

Only private chats are served. An update from a group, a supergroup or a channel (a message, or a
press on a button under one of our messages there) is acknowledged — a button's spinner is stopped —
and nothing else: nothing stored, no flow run, nothing sent to the group, where a citizen's item
would be read by everyone.

Reaching Telegram: if ``getMe`` (or registering the webhook, or starting to poll) fails when the
process starts — the network down, a revoked token, a timeout — the channel is degraded and tried
again in the background (bot/channels/connection.py) while everything else serves; its messages wait
in the outbox. A citizen who blocked the bot cannot be sent anything: those messages are held with
the reason ``blocked`` (scheduler/outbox.py: the item's timeline says so, the officer sees it) and
leave, in order, when the citizen writes again (unblocking means writing: Telegram's «Restart»
sends /start).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import defaultdict
from datetime import timedelta

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    BaseUpdateProcessor,
    ContextTypes,
    TypeHandler,
)
from telegram.request import BaseRequest

from bot.channels.connection import PlatformConnection
from bot.channels.pacing import SlidingWindowLimiter
from bot.domain.dialog import Incoming, Location, Photo, Reply
from bot.leader import polling_leader
from bot.settings import Settings, TelegramMode
from bot.texts import t
from handlers.pipeline import handle_incoming
from scheduler.outbox import HOLDING_CHANNELS, SENT_MESSAGE, DeliveryHeld, DeliveryRefused, DeliveryRetry

log = logging.getLogger(__name__)
# python-telegram-bot logs whole updates and API calls at DEBUG: what people typed and what they were
# sent, a denouncer's name included. Never below INFO.
_ptb_log = logging.getLogger("telegram")
_ptb_log.setLevel(max(_ptb_log.level, logging.INFO))

CHANNEL = "telegram"
TEXT_LIMIT = 4096
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's 403 to a citizen who blocked the bot ("Forbidden: bot was blocked by the user"): held
# until they write again. Other 403s (a deleted account, a group the bot left) are refusals.
BLOCKED = "blocked by the user"
UNSUPPORTED = ("sticker", "voice", "video", "video_note", "audio", "document", "animation", "contact", "poll",
               "dice", "game", "venue")


def private(update: Update) -> bool:
    """Whether the update comes from a private chat with the bot, the only kind we serve."""
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE


def to_incoming(update: Update) -> Incoming | None:
    """The neutral form of an update, or None for updates that are not a person talking to us."""
    key = str(update.update_id)
    if not private(update):
        return None
    if update.callback_query is not None:
        query = update.callback_query
        if query.message is None or query.from_user is None:
            return None
        return Incoming(CHANNEL, str(query.message.chat.id), str(query.from_user.id), key, button=query.data or "",
                        platform_language=query.from_user.language_code)
    message = update.message
    if message is None or message.from_user is None:
        return None
    common = dict(channel=CHANNEL, chat_id=str(message.chat_id), user_id=str(message.from_user.id), update_key=key,
                  platform_language=message.from_user.language_code)
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        return Incoming(**common, photos=(Photo(largest.file_id, message.caption),), text=message.caption)
    if message.location is not None:
        return Incoming(**common, location=Location(message.location.latitude, message.location.longitude))
    if message.contact is not None:
        # Telegram names the account a shared number belongs to: the sender's own id only when it is
        # their own number (the request_contact button, or their own card); a forwarded card of someone
        # else names that person, a number without an account names nobody.
        contact = message.contact
        if contact.user_id is not None and contact.user_id == message.from_user.id and contact.phone_number:
            return Incoming(**common, verified_phone=contact.phone_number)
        return Incoming(**common, unsupported="contact")
    if message.text is not None:
        return Incoming(**common, text=message.text)
    kind = next((name for name in UNSUPPORTED if getattr(message, name, None)), "other")
    return Incoming(**common, unsupported=kind)


def plausible(update: Update) -> bool:
    """Whether the fields ``to_incoming`` reads have the types Telegram always sends. ``Update.de_json``
    takes whatever it is given, and a chat id that is not a number even breaks python-telegram-bot's
    own bookkeeping before any handler runs (an unhashable one stops its update fetcher for good)."""
    def number(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def real(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    def text(value) -> bool:
        """None, or a str a database can store (JSON may carry lone surrogates, which UTF-8 cannot)."""
        if value is None:
            return True
        if not isinstance(value, str):
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True

    chat, user, message, query = update.effective_chat, update.effective_user, update.message, update.callback_query
    if not number(update.update_id) or any(e is not None and not number(e.id) for e in (chat, user)):
        return False
    if (user is not None and not text(user.language_code)) or (chat is not None and not text(chat.type)):
        return False
    if query is not None and not text(query.data):
        return False
    return message is None or (
        message.chat is not None and text(message.text) and text(message.caption)
        and all(isinstance(size.file_id, str) and number(size.width) and number(size.height) for size in message.photo)
        and (message.location is None or (real(message.location.latitude) and real(message.location.longitude)))
        and (message.contact is None or (isinstance(message.contact.phone_number, str) and text(message.contact.phone_number)
                                         and (message.contact.user_id is None or number(message.contact.user_id)))))


def keyboard(reply: Reply) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    """The reply's buttons as an inline keyboard; a request for the person's phone number as a reply
    keyboard with one request_contact button, hidden once used (a message carries one or the other,
    so a reply asking for the number should have no buttons of its own)."""
    if reply.phone_request is not None:
        return ReplyKeyboardMarkup([[KeyboardButton(reply.phone_request, request_contact=True)]],
                                   one_time_keyboard=True, resize_keyboard=True)
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.value) for b in row] for row in reply.buttons]
    )


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split at paragraph or line breaks where possible so no part exceeds Telegram's limit."""
    parts: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n\n", 0, limit), text.rfind("\n", 0, limit))
        cut = cut if cut > limit // 2 else limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    parts.append(text)
    # Trailing line breaks after a cut leave an empty part, which Telegram refuses ("message text is empty").
    return [part for part in parts if part.strip()] or parts[:1]


class TelegramSender:
    channel = CHANNEL
    per_chat_burst = 3

    def __init__(self, bot, per_chat_rate: float = 1.0, connection: PlatformConnection | None = None):
        HOLDING_CHANNELS.add(CHANNEL)
        self.bot = bot
        self.per_chat_rate = per_chat_rate  # messages a second in one chat, after a burst of per_chat_burst
        self.connection = connection

    async def send(self, chat_id: str, reply: Reply, parts_sent: int = 0) -> dict | None:
        """Photos first, then the text in parts; the keyboard rides on the last part. Parts already
        delivered by an earlier attempt are skipped, and a failure says how many got through."""
        if self.connection is not None and self.connection.unavailable:
            # Not the message's fault: it waits for the channel without using up an attempt.
            raise DeliveryRetry("telegram: not connected; waiting for the next attempt to connect",
                                after=self.connection.retry_in(), parts_sent=parts_sent)
        chat = int(chat_id)
        if reply.clears is not None:
            return await self._take_buttons_away(chat, reply)
        parts = split_text(reply.text)
        steps = [("photo", photo, None) for photo in reply.photos] + [
            ("text", part, keyboard(reply) if index == len(parts) - 1 else None) for index, part in enumerate(parts)]
        delivered = parts_sent
        kept = None
        try:
            for kind, content, markup in steps[parts_sent:]:
                if kind == "photo":
                    await self.bot.send_photo(chat_id=chat, photo=content)
                else:
                    message = await self.bot.send_message(chat_id=chat, text=content, reply_markup=markup)
                    if isinstance(markup, InlineKeyboardMarkup):  # a later step takes these buttons away
                        kept = {SENT_MESSAGE: str(message.message_id)}
                delivered += 1
        except RetryAfter as exc:
            after = exc.retry_after
            seconds = after.total_seconds() if isinstance(after, timedelta) else float(after)
            raise DeliveryRetry(f"telegram flood control: retry after {seconds}s", after=seconds,
                                parts_sent=delivered) from exc
        except Forbidden as exc:
            if BLOCKED in exc.message.lower():
                raise DeliveryHeld("blocked", f"telegram refused: {exc.message}", parts_sent=delivered) from exc
            raise DeliveryRefused(f"telegram refused: {exc.message}") from exc
        except BadRequest as exc:
            raise DeliveryRefused(f"telegram bad request: {exc.message}") from exc
        except (NetworkError, TelegramError) as exc:
            raise DeliveryRetry(f"telegram error: {exc}", parts_sent=delivered) from exc
        return kept

    async def _take_buttons_away(self, chat: int, reply: Reply) -> None:
        """editMessageReplyMarkup without a markup: the old message stays, its buttons go. A message
        already without them, or deleted by the citizen, leaves nothing to do (Telegram says 400)."""
        try:
            await self.bot.edit_message_reply_markup(chat_id=chat, message_id=int(reply.clears_message),
                                                     reply_markup=None)
        except RetryAfter as exc:
            after = exc.retry_after
            seconds = after.total_seconds() if isinstance(after, timedelta) else float(after)
            raise DeliveryRetry(f"telegram flood control: retry after {seconds}s", after=seconds) from exc
        except Forbidden as exc:
            if BLOCKED in exc.message.lower():
                raise DeliveryHeld("blocked", f"telegram refused: {exc.message}") from exc
            raise DeliveryRefused(f"telegram refused: {exc.message}") from exc
        except BadRequest as exc:  # "message is not modified", "message to edit not found": nothing left
            log.info("telegram: no buttons to take away (%s)", exc.message)
        except (NetworkError, TelegramError) as exc:
            raise DeliveryRetry(f"telegram error: {exc}") from exc


class ChatOrderedUpdates(BaseUpdateProcessor):
    """Updates of different chats are handled at once, those of one chat one after another in the
    order they arrived (a FIFO lock per chat; python-telegram-bot's own concurrent processor keeps
    no order). Handled at once, they share transactions (handlers/pipeline.py's group commit)."""

    def __init__(self, max_concurrent_updates: int):
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._holders: dict[int, int] = defaultdict(int)

    async def do_process_update(self, update, coroutine) -> None:
        chat = update.effective_chat.id if isinstance(update, Update) and update.effective_chat else None
        if not isinstance(chat, int):  # no chat, or an implausible one that on_update turns away
            await coroutine
            return
        lock = self._locks.setdefault(chat, asyncio.Lock())
        self._holders[chat] += 1
        try:
            async with lock:
                await coroutine
        finally:
            self._holders[chat] -= 1
            if not self._holders[chat]:
                del self._holders[chat], self._locks[chat]

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


class UpdateQueue(asyncio.Queue):
    """python-telegram-bot's update queue, holding at most ``limit`` updates that are waiting or being
    handled. With concurrent updates its fetcher empties the queue into tasks at once, so a bound on
    the queue alone would bound nothing; counting until ``task_done`` (called when an update has been
    handled) does. When it is full the poller stops fetching and the webhook stops answering, and the
    rest waits at Telegram instead of in our memory."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit
        self.held = 0  # put and not yet handled
        self._room = asyncio.Event()
        self._room.set()

    async def put(self, item) -> None:
        while self.held >= self.limit:
            await self._room.wait()
        self.put_nowait(item)

    def put_nowait(self, item) -> None:
        if self.held >= self.limit:
            raise asyncio.QueueFull
        self.held += 1
        if self.held >= self.limit:
            self._room.clear()
        super().put_nowait(item)

    def task_done(self) -> None:
        super().task_done()
        self.held -= 1
        self._room.set()


class TelegramChannel:
    def __init__(self, runtime, *, request: BaseRequest | None = None,
                 get_updates_request: BaseRequest | None = None):
        self.runtime = runtime
        self.settings: Settings = runtime.settings
        self.application = build_application(self.settings, request=request, get_updates_request=get_updates_request)
        self.application.add_handler(TypeHandler(Update, self.on_update))
        self.application.add_error_handler(self.on_error)
        self.connection = PlatformConnection("telegram", self._connect, on_connected=self._connected)
        self.sender = TelegramSender(self.application.bot, self.settings.telegram_per_chat_rate, self.connection)
        # Polling: on PostgreSQL several processes may run, and one of them polls (bot/leader.py).
        polling = self.settings.telegram_mode is TelegramMode.polling and getattr(runtime, "poll", True)
        self.polls, self.leader = polling_leader(runtime, CHANNEL, polling, self._start_polling, self._stop_polling)

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not plausible(update):
            log.warning("telegram: ignored an update of an unexpected shape")
            return
        if not private(update):
            # A group, supergroup or channel: not served. A button pressed there still gets its
            # spinner stopped, and nothing more.
            if update.callback_query is not None:
                await self._answer(update.callback_query)
            return
        incoming = to_incoming(update)
        # The button's spinner is stopped while the step runs, not before: the answer is a round trip
        # to Telegram, which the step (and the chat's next update) would otherwise wait for.
        answering = (asyncio.ensure_future(self._answer(update.callback_query))
                     if update.callback_query is not None else None)
        try:
            if incoming is not None:
                await self._handle(incoming)
        finally:
            if answering is not None:
                await answering

    async def _handle(self, incoming: Incoming) -> None:
        try:
            await handle_incoming(incoming, self.runtime.uows, self.settings)
        except (SQLAlchemyError, OSError):
            log.warning("telegram: database unavailable, asked the user to retry")
            await self._tell_temporary_failure(incoming)

    @staticmethod
    async def _answer(query) -> None:
        try:
            # Stops the button's spinner; not a message, so it does not go through the outbox.
            await query.answer()
        except TelegramError:
            log.info("could not answer callback query")

    async def _tell_temporary_failure(self, incoming: Incoming) -> None:
        try:
            await self.application.bot.send_message(
                chat_id=int(incoming.chat_id), text=t(self.settings.default_language.value, "error.temporary")
            )
        except TelegramError:
            log.warning("telegram: could not send the temporary-failure notice")

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram handler error: %s", type(context.error).__name__, exc_info=context.error)

    async def start(self) -> None:
        """Connect to Telegram; if it cannot be reached, the channel is degraded and keeps trying in
        the background. Never raises: the rest of tiepdan serves either way."""
        await self.connection.start()

    async def _connect(self) -> None:
        """One attempt; each step is skipped when an earlier attempt got that far."""
        await self.application.initialize()  # getMe: checks the token
        if not self.application.running:
            await self.application.start()
        if self.settings.telegram_mode is TelegramMode.webhook:
            await self.application.bot.set_webhook(
                url=self.settings.telegram_webhook_url, secret_token=self.settings.telegram_webhook_secret,
                allowed_updates=["message", "callback_query"],
            )
        elif self.leader is not None:
            if not self.leader.started:
                await self.leader.start()
        elif self.polls and not self.application.updater.running:
            await self._start_polling()

    async def _start_polling(self) -> None:
        if not self.application.updater.running:
            await self.application.updater.start_polling(allowed_updates=["message", "callback_query"])

    async def _stop_polling(self) -> None:
        if self.application.updater.running:
            await self.application.updater.stop()

    def _connected(self) -> None:
        self.runtime.dispatcher.wake()  # what waited for the channel may leave now

    async def stop(self) -> None:
        await self.connection.stop()
        if self.leader is not None:
            await self.leader.stop()
        if self.application.updater and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()
        await self.application.bot.shutdown()  # its HTTP clients, opened by a getMe that then failed

    def routes(self) -> list[web.RouteDef]:
        return [web.post(WEBHOOK_PATH, self.webhook)]

    async def webhook(self, request: web.Request) -> web.Response:
        expected = self.settings.telegram_webhook_secret or ""
        given = request.headers.get(SECRET_HEADER, "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            log.warning("telegram webhook: wrong secret token from %s", request.remote)
            return web.Response(status=401)
        if self.connection.degraded and not self.application.running:
            return web.Response(status=503)  # nothing would take the update now; Telegram delivers it again
        try:
            data = json.loads(await request.text())
            # Telegram posts one JSON object; a list, a string or null is not an update.
            update = Update.de_json(data, self.application.bot) if isinstance(data, dict) else None
        except (ValueError, TypeError, KeyError, AttributeError):  # AttributeError: a field of the wrong type
            return web.Response(status=400)
        if update is None or not plausible(update):
            return web.Response(status=400)
        if not self.application.running:
            await self.application.update_queue.put(update)  # taken when the application starts
            return web.Response(status=200)
        # Answered once handled (committed), not once queued: a process killed in between never said
        # 200, so Telegram delivers the update again (to any process behind the proxy) and it is not
        # lost; the redelivery of one that was handled is recognised (ProcessedUpdate). The update
        # processor keeps one chat's updates in order and bounds how many run at once.
        await self.application.update_processor.process_update(update, self.application.process_update(update))
        return web.Response(status=200)


# Telegram allows about 30 messages a second overall. AIORateLimiter() is a leaky bucket holding 30,
# so a broadcast's first second can carry 59 (bench.broadcast: 390 answers 429 for 10,000
# subscribers); holding one, it never makes up for a timer that fired late (0.949 x the limit). A
# sliding window, the rule the server checks, never passes 30 in a second and makes up for late
# timers (bot.channels.pacing).
OVERALL_PER_SECOND = 30


def rate_limiter() -> BaseRateLimiter:
    return SlidingWindowLimiter(per_window=OVERALL_PER_SECOND, window=1.0)


def build_application(settings: Settings, *, request: BaseRequest | None = None,
                      get_updates_request: BaseRequest | None = None) -> Application:
    concurrent = settings.telegram_concurrent_updates
    builder = (ApplicationBuilder().token(settings.telegram_token).rate_limiter(rate_limiter())
               .concurrent_updates(ChatOrderedUpdates(concurrent)).update_queue(UpdateQueue(4 * concurrent)))
    if settings.telegram_base_url:
        base = settings.telegram_base_url.rstrip("/")
        builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    if settings.telegram_mode is TelegramMode.webhook:
        builder = builder.updater(None)
    return builder.build()
