"""Zalo Official Account: the commune's OA webhook in, consultation messages out, through the same
flows as every other channel.

Webhook (developers.zalo.me: official-account/webhook/tong-quan). Zalo POSTs one JSON event and signs
it in ``X-ZEvent-Signature: mac=<hex>``, the SHA-256 of app id + raw body + the event's ``timestamp``
+ the OA secret key (not the app secret). We compare in constant time and answer 401 to anything
else. Zalo wants a 200 within 2 seconds and retries otherwise, so the event is handled in a task
after the answer; a retried delivery carries the same ``msg_id`` and the pipeline's inbound dedupe
ignores it. Events of one user are handled in the order they arrived.

Events (shapes from public integrations that match the official samples):
``{"app_id", "event_name", "timestamp" (ms, a string), "sender": {"id"}, "recipient": {"id"},
"message": {"msg_id", "text", "attachments": [{"type", "payload": {...}}]}}``; images carry
``payload.url``, a location ``payload.coordinates.{latitude, longitude}`` (strings; some integrations
show ``lat``/``long``, both are read), a file ``payload.{url, name, size}``. ``follow``/``unfollow`` name
the user in ``follower.id``, ``user_click_chatnow`` in ``user_id``; ``user_submit_info`` brings
``info.{name, phone, address, ward, district, city}``: a petition's contact details while the petition
asks for them, the citizen's own number while a consultation asks to verify them as a resident.
Stickers, voice, video, GIFs, links and contact cards (``user_send_sticker``, ``user_send_audio``,
``user_send_video``, ``user_send_gif``, ``user_send_link``, ``user_send_business_card``) are answered
politely that we cannot take them; Zalo counts them as interactions (the 7-day window opens again),
so they release held messages like any other. Other events are acknowledged and ignored.

Old events: an event whose ``timestamp`` is more than ``TIEPDAN_ZALO_OA_EVENT_MAX_AGE_SECONDS``
(default 300) old is answered 200 and not processed. A replay of a captured, genuinely signed event is
then harmless, and a retry Zalo makes long after the fact does not act on a state that has moved on.
The answer is a 2xx, not a 4xx, because Zalo retries what it does not see accepted: a refusal would
only bring the same stale event back again and again. An event stamped in the future (clocks a
little apart) is taken. ``follow`` and ``unfollow`` also apply in the order they happened, not the
order they arrive: the time of the last one applied is kept (a ``processed_updates`` row keyed
``follow-state:<user>``, beside the inbound dedupe it belongs with), and an older one is ignored, so
a late ``unfollow`` cannot undo a later ``follow``; a message older than the unfollow on record does
not undo it either.

Buttons: the OA's ``oa.query.hide`` button sends its payload back as a ``user_send_text``, hidden from
the chat. Our payloads are ``#b:`` + the button's value, so a tap is always recognised as a tap —
even on an old message — and the pipeline refuses expired or forged ones exactly as on Telegram;
an untagged text that equals a button the conversation expects, or a global ``g:`` value, is taken
as that button too. Zalo shows at most 5 buttons under a message: longer menus continue in the
next messages, 5 at a time, so every choice stays one tap away and nothing has to be remembered
about which page a chat is on.

Photos: the image's Zalo CDN URL is kept as the photo reference (an officer on Zalo is sent the
same URL back); no download in the 2-second path.

Reaching a user: a reply is allowed within 7 days of their last interaction. A message outside the
window, to a user who unfollowed, or to one Zalo refuses as blocked is held on its outbox row with
the reason (scheduler/outbox.py) and released at their next interaction.

Reaching Zalo: the channel is connected once it has a usable access token (refreshed at start when
none is stored or it is about to expire). If OAuth cannot be reached, or refuses the refresh token,
the channel is degraded (bot/channels/connection.py, shown on /healthz) and messages wait in the
outbox, pending, without using up their attempts. A refused refresh token is not sent to OAuth again:
the channel looks every few seconds (``AUTH_RECHECK``, a read of the stored pair) for the pair of a new
authorisation — configured and stored at a restart, or stored by another process — and the waiting
messages leave within seconds of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.connection import PlatformConnection, backoff
from bot.channels.zalo_api import (
    MAX_BUTTONS,
    ZaloAPIError,
    ZaloAuthError,
    ZaloOAClient,
    ZaloRateLimited,
    ZaloUnavailable,
    buttons_message,
    contact_request,
    image_message,
    split_text,
    text_message,
)
from bot.domain.dialog import Button, Incoming, Location, Photo, Reply
from bot.settings import Settings
from bot.texts import t
from handlers.pipeline import handle_incoming
from scheduler.outbox import HOLDING_CHANNELS, DeliveryHeld, DeliveryRefused, DeliveryRetry, release_held
from storage.models import ChannelIdentity, ProcessedUpdate, User, ZaloUnfollow, utcnow

log = logging.getLogger(__name__)

CHANNEL = "zalo"
SIGNATURE_HEADER = "X-ZEvent-Signature"
MAX_BODY = 256 * 1024
BUTTON_PREFIX = "#b:"
REQUEST_INFO = "zalo:request_user_info"  # a button value the sender renders as Zalo's contact-sharing card
WINDOW = timedelta(days=7)
# What we cannot take, as the pipeline names it in its polite answer (texts "media.<kind>").
UNSUPPORTED_EVENTS = {"user_send_sticker": "sticker", "user_send_audio": "voice", "user_send_video": "video",
                      "user_send_gif": "animation", "user_send_link": "link", "user_send_business_card": "contact"}
MESSAGE_EVENTS = ("user_send_text", "user_send_image", "user_send_location", "user_send_file", *UNSUPPORTED_EVENTS)
FOLLOW_STATE = "follow-state:{user}"  # inbound-dedupe key holding the time of the user's last (un)follow
IMAGE_NAMES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".heic")
MAX_PHOTOS = 5
CONTACT_STEPS = ("name", "address", "phone")
# Zalo's refusals that hold a message until the user's next interaction, by reason.
HELD = {-230: "window_closed", -232: "window_closed", -213: "unfollowed", -227: "blocked", -244: "blocked"}
REFUSED = (-100, -201, -210, -233)  # the message itself is wrong: retrying cannot help
LATER = {-211: 3600.0, -218: 3600.0}  # out of quota, the user's receiving limit: seconds to wait
AUTH_RECHECK = 5.0  # seconds between looks for a new authorisation's pair while OAuth refuses the stored one
KEEP_FRESH_EVERY = 600.0  # seconds between checks that the access token outlives the next hour
KEEP_FRESH_AHEAD = timedelta(hours=1)


def signature(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """``mac`` of a webhook event: SHA-256 over app id + raw body + timestamp + OA secret key."""
    return hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret_key.encode()).hexdigest()


def user_of(event: dict) -> str | None:
    for holder in ("sender", "follower"):
        value = event.get(holder)
        if isinstance(value, dict) and isinstance(value.get("id"), (str, int)):
            return str(value["id"])
    user = event.get("user_id")
    return str(user) if isinstance(user, (str, int)) and user != "" else None


def to_incoming(event: dict, user: str) -> Incoming | None:
    """A user_send_* event in neutral form; None when it is not one we can read."""
    message = event.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("msg_id"), (str, int)):
        return None
    common = dict(channel=CHANNEL, chat_id=user, user_id=user, update_key=str(message["msg_id"]))
    text = message.get("text") if isinstance(message.get("text"), str) else None
    listed = message.get("attachments")
    attachments = [a for a in listed if isinstance(a, dict)] if isinstance(listed, list) else []
    payloads = [a.get("payload") if isinstance(a.get("payload"), dict) else {} for a in attachments]
    name = event.get("event_name")
    if name == "user_send_text":
        if text is None:
            return None
        if text.startswith(BUTTON_PREFIX):
            return Incoming(**common, button=text[len(BUTTON_PREFIX):])
        return Incoming(**common, text=text)
    if name == "user_send_image":
        urls = [p.get("url") for p in payloads if _is_url(p.get("url"))]
        if not urls:
            return Incoming(**common, unsupported="other")
        caption = text.strip() if text and text.strip() else None
        return Incoming(**common, photos=tuple(Photo(url, caption) for url in urls[:MAX_PHOTOS]), text=caption)
    if name == "user_send_location":
        for payload in payloads + [message]:
            location = _location(payload.get("coordinates") or payload.get("location"))
            if location is not None:
                return Incoming(**common, location=location)
        return Incoming(**common, unsupported="other")
    if name == "user_send_file":
        for payload in payloads:
            file_name = str(payload.get("name") or "").lower()
            if _is_url(payload.get("url")) and file_name.endswith(IMAGE_NAMES):
                return Incoming(**common, photos=(Photo(payload["url"]),))
        return Incoming(**common, unsupported="document")
    if name in UNSUPPORTED_EVENTS:
        return Incoming(**common, unsupported=UNSUPPORTED_EVENTS[name])
    return None


def event_time(event: dict) -> datetime | None:
    """When Zalo says the event happened (``timestamp``: milliseconds since the epoch, a string)."""
    stamp = event.get("timestamp")
    try:
        milliseconds = int(stamp) if isinstance(stamp, (str, int)) and not isinstance(stamp, bool) else None
        return datetime.fromtimestamp(milliseconds / 1000, tz=timezone.utc) if milliseconds is not None else None
    except (ValueError, OverflowError, OSError):
        return None


def _is_url(value) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _location(value) -> Location | None:
    if not isinstance(value, dict):
        return None
    try:
        latitude = float(value.get("latitude", value.get("lat")))
        longitude = float(value.get("longitude", value.get("long", value.get("lng"))))
    except (TypeError, ValueError):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return Location(latitude, longitude)


def contact_fields(info: dict) -> dict[str, str]:
    """What user_submit_info shared, as the submit flow asks for it (name, address, phone)."""
    def text(key: str) -> str:
        value = info.get(key)
        return value.strip() if isinstance(value, str) else ""
    address = ", ".join(part for part in (text("address"), text("ward"), text("district"), text("city")) if part)
    phone = "".join(c for c in text("phone") if c.isdigit() or c == "+")
    return {"name": text("name"), "address": address, "phone": phone}


# -- sending -------------------------------------------------------------------------------------------

def render(reply: Reply, language: str, info_image_url: str | None) -> list[dict[str, Any]]:
    """A reply as the Zalo messages that carry it, in order: photos, the text in parts of at most
    2000 characters with the first five buttons under the last part, then five more buttons a
    message. A reply offering REQUEST_INFO, or asking for the person's phone number, is Zalo's
    contact-sharing card."""
    if reply.phone_request is not None and info_image_url:
        return [contact_request(reply.phone_request, reply.text, info_image_url)]
    flat = [button for row in reply.buttons for button in row]
    card = next((b for b in flat if b.value == REQUEST_INFO), None)
    if card is not None and info_image_url:
        return [contact_request(card.label, reply.text, info_image_url)]
    messages = [image_message(ref) for ref in reply.photos if _is_url(ref)]
    buttons = [(b.label, BUTTON_PREFIX + b.value) for b in flat if b.value != REQUEST_INFO]
    pages = [buttons[i:i + MAX_BUTTONS] for i in range(0, len(buttons), MAX_BUTTONS)]
    parts = split_text(reply.text)
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        messages.append(buttons_message(part, pages[0]) if last and pages else text_message(part))
    messages += [buttons_message(t(language, "zalo.more_choices"), page) for page in pages[1:]]
    return messages


class ZaloOASender:
    """Delivers outbox rows as consultation messages. A chat Zalo will not take now is held."""

    channel = CHANNEL

    def __init__(self, client: ZaloOAClient, uows, settings: Settings, *, clock: Callable = utcnow,
                 connection: PlatformConnection | None = None):
        HOLDING_CHANNELS.add(CHANNEL)
        self.client = client
        self.uows = uows
        self.settings = settings
        self.clock = clock
        self.connection = connection

    async def send(self, chat_id: str, reply: Reply, parts_sent: int = 0) -> None:
        language, reason = await self._reachability(chat_id)
        if reason is not None:
            raise DeliveryHeld(reason, "not attempted", parts_sent=parts_sent)
        if self.connection is not None and self.connection.unavailable:
            # Not the message's fault: it waits for the channel without using up an attempt.
            raise DeliveryRetry("zalo: not connected; waiting for the next attempt to connect",
                                after=self.connection.retry_in(), parts_sent=parts_sent)
        messages = render(reply, language, self.settings.zalo_oa_info_image_url)
        delivered = parts_sent
        for message in messages[parts_sent:]:
            try:
                await self.client.send(chat_id, message)
            except ZaloAPIError as exc:
                raise _outcome(exc, delivered) from exc
            except ZaloRateLimited as exc:
                raise DeliveryRetry(str(exc), after=exc.after, parts_sent=delivered) from exc
            except ZaloAuthError as exc:
                # An administrator must authorise the OA again: the channel waits for the new pair.
                if self.connection is None:
                    raise DeliveryRetry(str(exc), after=AUTH_RECHECK, parts_sent=delivered) from exc
                self.connection.lost(exc)
                raise DeliveryRetry(str(exc), after=self.connection.retry_in(), parts_sent=delivered) from exc
            except ZaloUnavailable as exc:
                raise DeliveryRetry(str(exc), parts_sent=delivered) from exc
            delivered += 1

    async def _reachability(self, user: str) -> tuple[str, str | None]:
        """The user's language, and why Zalo would refuse them now (None: try)."""
        async with self.uows() as uow:
            unfollowed = await uow.session.get(ZaloUnfollow, user)
            row = (await uow.session.execute(
                select(User.language, ChannelIdentity.last_seen_at).join(User, User.id == ChannelIdentity.user_id)
                .where(ChannelIdentity.channel == CHANNEL, ChannelIdentity.external_id == user))).first()
        language = row.language if row is not None else self.settings.default_language.value
        if unfollowed is not None:
            return language, "unfollowed"
        if row is not None and self.clock() - row.last_seen_at > WINDOW:
            return language, "window_closed"
        return language, None


def _pause(failures: int, error: BaseException) -> float:
    """Before the next attempt to connect. A refused refresh token waits for an administrator: looking
    for their new pair is a read of the stored one, so it is looked for often; an OAuth that cannot
    be reached is tried with the usual growing pauses."""
    return AUTH_RECHECK if isinstance(error, ZaloAuthError) else backoff(failures, error)


def _describe(error: BaseException) -> str:
    """For the log: Zalo's own errors as they are (they never carry a token); anything else (a
    database error, whose text may hold the tokens being stored) by its kind only."""
    return str(error) if isinstance(error, (ZaloAuthError, ZaloUnavailable)) else type(error).__name__


def _outcome(error: ZaloAPIError, delivered: int) -> Exception:
    if error.code in HELD:
        return DeliveryHeld(HELD[error.code], str(error), parts_sent=delivered)
    if error.code in REFUSED:
        return DeliveryRefused(str(error))
    if error.code in LATER:
        return DeliveryRetry(str(error), after=LATER[error.code], parts_sent=delivered)
    return DeliveryRetry(str(error), parts_sent=delivered)


# -- receiving -----------------------------------------------------------------------------------------

class ZaloOAChannel:
    def __init__(self, runtime, *, clock: Callable = utcnow):
        self.runtime = runtime
        self.settings: Settings = runtime.settings
        self.client = ZaloOAClient(
            runtime.uows, app_id=self.settings.zalo_oa_app_id, app_secret=self.settings.zalo_oa_app_secret,
            api_url=self.settings.zalo_oa_api_url, oauth_url=self.settings.zalo_oa_oauth_url,
            requests_per_second=self.settings.zalo_oa_requests_per_second, clock=clock)
        self.clock = clock
        # An attempt is never cut short: a refresh under way must store the rotated pair.
        self.connection = PlatformConnection("zalo_oa", self._connect, on_connected=self._connected,
                                             pause=_pause, describe=_describe, interrupt=False)
        self.sender = ZaloOASender(self.client, runtime.uows, self.settings, clock=clock, connection=self.connection)
        self._tasks: set[asyncio.Task] = set()
        self._last_of_user: dict[str, asyncio.Task] = {}
        self._keeper: asyncio.Task | None = None
        self._seeded = False
        self._stopping = asyncio.Event()

    def routes(self) -> list[web.RouteDef]:
        return [web.post(self.settings.zalo_oa_webhook_path, self.webhook)]

    async def start(self) -> None:
        """Store the configured pair and make sure a token can be had; if not, the channel is
        degraded and keeps trying in the background. Never raises: the rest serves either way."""
        self._stopping.clear()
        self._seeded = False
        await self.client.start()
        await self.connection.start()

    async def _connect(self) -> None:
        if not self._seeded:
            await self.client.tokens.seed(self.settings.zalo_oa_access_token, self.settings.zalo_oa_refresh_token)
            self._seeded = True
        if self._keeper is None:
            self._keeper = asyncio.create_task(self._keep_token_fresh(), name="zalo-oa-token")
        await self.client.tokens.usable()

    def _connected(self) -> None:
        self.runtime.dispatcher.wake()  # what waited for the channel may leave now

    async def stop(self) -> None:
        await self.connection.stop()
        if self._keeper is not None:
            # Not cancelled: a refresh under way must store the rotated pair before we go.
            self._stopping.set()
            await self._keeper
            self._keeper = None
        await self.idle(timeout=5.0)
        await self.client.close()

    async def _keep_token_fresh(self) -> None:
        """Refresh ahead of expiry even when nobody writes, so the refresh-token chain never lapses."""
        while True:
            try:
                await asyncio.wait_for(self._stopping.wait(), KEEP_FRESH_EVERY)
                return
            except TimeoutError:
                pass
            try:
                await self.client.tokens.keep_fresh(KEEP_FRESH_AHEAD)
            except ZaloAuthError as exc:
                self.connection.lost(exc)  # logged there, once
            except Exception:  # noqa: BLE001 - logged; the next round or the next send tries again
                log.warning("zalo oa: keeping the access token fresh failed", exc_info=True)

    async def idle(self, timeout: float | None = None) -> None:
        """Wait until every event received so far has been handled."""
        while self._tasks:
            done, _ = await asyncio.wait(set(self._tasks), timeout=timeout)
            if not done:
                return

    async def webhook(self, request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413)
        try:
            body = await request.read()  # the whole body: the signature covers every byte of it
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413)
        try:
            event = json.loads(body) if len(body) <= MAX_BODY else None
        except (UnicodeDecodeError, ValueError):
            event = None
        if not isinstance(event, dict) or not self._signed(body, event, request.headers.get(SIGNATURE_HEADER, "")):
            log.warning("zalo webhook: missing or wrong signature from %s", request.remote)
            return web.Response(status=401)
        user = user_of(event)
        if user is None:
            return web.Response(status=200)
        at = event_time(event)
        if at is None or self.clock() - at > timedelta(seconds=self.settings.zalo_oa_event_max_age_seconds):
            # Acknowledged, so Zalo stops retrying it; not processed (see the module's docstring).
            log.info("zalo webhook: ignored a %s event from %s", "stale" if at else "timeless", at)
            return web.Response(status=200)
        # Answer at once (Zalo waits 2 seconds at most); handle in order after this user's previous event.
        previous = self._last_of_user.get(user)
        task = asyncio.create_task(self._after(previous, event, user, at))
        self._tasks.add(task)
        self._last_of_user[user] = task
        task.add_done_callback(lambda done: self._forget(user, done))
        return web.Response(status=200)

    def _signed(self, body: bytes, event: dict, header: str) -> bool:
        given = header.strip()
        given = given[4:] if given.lower().startswith("mac=") else given
        timestamp = event.get("timestamp")
        if not given or not isinstance(timestamp, (str, int)):
            return False
        expected = signature(self.settings.zalo_oa_app_id, body, str(timestamp), self.settings.zalo_oa_secret_key)
        return hmac.compare_digest(given.lower().encode(), expected.encode())

    def _forget(self, user: str, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if self._last_of_user.get(user) is task:
            del self._last_of_user[user]

    async def _after(self, previous: asyncio.Task | None, event: dict, user: str, at: datetime) -> None:
        if previous is not None:
            await asyncio.wait({previous})
        name = event.get("event_name")
        try:
            if name in MESSAGE_EVENTS:
                await self._on_message(event, user, at)
            elif name == "follow":
                await self._on_follow(event, user, at)
            elif name == "user_click_chatnow":
                await self._on_chat_now(event, user, at)
            elif name == "unfollow":
                await self._on_unfollow(event, user, at)
            elif name == "user_submit_info":
                await self._on_submit_info(event, user, at)
        except (SQLAlchemyError, OSError):
            log.warning("zalo: database unavailable, asked the user to retry")
            await self._tell_temporary_failure(user)
        except Exception:
            log.exception("zalo: handling %s failed", name)

    async def _on_message(self, event: dict, user: str, at: datetime) -> None:
        incoming = to_incoming(event, user)
        if incoming is None:
            return
        await self._reachable_again(user, at)
        incoming = await self._as_button(incoming)
        await handle_incoming(incoming, self.runtime.uows, self.settings)
        await self._offer_contact_card(user, incoming.update_key)

    async def _as_button(self, incoming: Incoming) -> Incoming:
        """An untagged text that equals a button the conversation expects (or a global one) is that button."""
        text = incoming.text
        if text is None or incoming.photos or len(text.encode()) > 64:
            return incoming
        if not text.startswith("g:"):
            async with self.runtime.uows() as uow:
                row = await uow.conversations.load(CHANNEL, incoming.chat_id, lock=False)
            if row is None or text not in (row.expected_buttons or []):
                return incoming
        return Incoming(incoming.channel, incoming.chat_id, incoming.user_id, incoming.update_key, button=text)

    async def _greet(self, event: dict, user: str) -> None:
        """Start the conversation (the language, or a returning citizen's menu)."""
        key = f"{event.get('event_name')}:{user}:{event.get('timestamp')}"
        await handle_incoming(Incoming(CHANNEL, user, user, key, text="/start"), self.runtime.uows, self.settings)

    async def _on_follow(self, event: dict, user: str, at: datetime) -> None:
        """A follow newer than the last (un)follow applied undoes an unfollow and greets; an older one
        (delivered late) changes nothing."""
        async with self.runtime.uows() as uow:
            if not await self._newest_follow_state(uow, user, at):
                return
            await uow.session.execute(delete(ZaloUnfollow).where(ZaloUnfollow.user_id == user))
            await uow.commit()
        await self._greet(event, user)

    async def _on_chat_now(self, event: dict, user: str, at: datetime) -> None:
        """«Nhắn tin» on the OA's page: greet a newcomer; for someone mid-conversation it only counts
        as an interaction (held messages leave), so a half-written petition is not thrown away."""
        async with self.runtime.uows() as uow:
            known = await uow.conversations.load(CHANNEL, user, lock=False) is not None
        await self._reachable_again(user, at)
        if not known:
            await self._greet(event, user)
            return
        await self._interacted(f"chatnow:{user}:{event.get('timestamp')}", user)

    async def _on_unfollow(self, event: dict, user: str, at: datetime) -> None:
        async with self.runtime.uows() as uow:
            if not await uow.inbound.first_delivery(CHANNEL, f"unfollow:{user}:{event.get('timestamp')}"):
                return
            if await self._newest_follow_state(uow, user, at):
                row = await uow.session.get(ZaloUnfollow, user)
                if row is None:
                    uow.session.add(ZaloUnfollow(user_id=user, unfollowed_at=at))
                else:
                    row.unfollowed_at = at
            await uow.commit()

    @staticmethod
    async def _newest_follow_state(uow, user: str, at: datetime) -> bool:
        """Whether a follow or unfollow that happened ``at`` is newer than the last one applied for
        ``user``; if so it becomes the last one (committed with the change it makes)."""
        key = FOLLOW_STATE.format(user=user)
        row = await uow.session.get(ProcessedUpdate, (CHANNEL, key), with_for_update=True)
        if row is not None and row.processed_at >= at:
            log.info("zalo: ignored a follow or unfollow older than the one already applied")
            return False
        if row is None:
            uow.session.add(ProcessedUpdate(channel=CHANNEL, update_key=key, processed_at=at))
        else:
            row.processed_at = at
        return True

    async def _on_submit_info(self, event: dict, user: str, at: datetime) -> None:
        """Contact details shared from Zalo's card go into the petition only while the conversation is
        asking for them, which it does only after the citizen consented (Law 91/2025/QH15). Each field
        goes through the flow as if typed, so it is checked the same way."""
        key = f"info:{user}:{event.get('timestamp')}"
        async with self.runtime.uows() as uow:
            first = await uow.inbound.first_delivery(CHANNEL, key)
            await uow.commit()
        if not first:
            return
        await self._reachable_again(user, at)
        fields = contact_fields(event.get("info") if isinstance(event.get("info"), dict) else {})
        step = await self._contact_step(user)
        if step is None and fields["phone"] and await self._in_consultations(user):
            # Shared from the card the consultation offered to verify the citizen as a resident: the
            # number Zalo holds for the account, which the flow takes as the person's own.
            await handle_incoming(Incoming(CHANNEL, user, user, f"{key}:resident", verified_phone=fields["phone"]),
                                  self.runtime.uows, self.settings)
            return
        if step is None:
            await self._interacted(f"{key}:unused", user, say="zalo.info_not_needed")
            return
        while step in CONTACT_STEPS and fields[step]:
            await handle_incoming(Incoming(CHANNEL, user, user, f"{key}:{step}", text=fields[step]),
                                  self.runtime.uows, self.settings)
            following = await self._contact_step(user)
            if following == step:
                break  # the flow did not take it (a phone number it cannot read): the citizen types it
            step = following

    async def _contact_step(self, user: str) -> str | None:
        async with self.runtime.uows() as uow:
            row = await uow.conversations.load(CHANNEL, user, lock=False)
        if row is None or row.flow != "submit" or row.step not in CONTACT_STEPS or not (row.data or {}).get("consent"):
            return None
        return row.step

    async def _in_consultations(self, user: str) -> bool:
        async with self.runtime.uows() as uow:
            row = await uow.conversations.load(CHANNEL, user, lock=False)
        return row is not None and row.flow == "consultations"

    async def _offer_contact_card(self, user: str, update_key: str) -> None:
        """When the petition asks for the name, offer Zalo's card that shares it in one tap."""
        if not self.settings.zalo_oa_info_image_url or await self._contact_step(user) != "name":
            return
        async with self.runtime.uows() as uow:
            person = await uow.users.by_channel_identity(CHANNEL, user)
            language = person.language if person else self.settings.default_language.value
            reply = Reply(t(language, "zalo.share_info_text"),
                          ((Button(t(language, "zalo.share_info_title"), REQUEST_INFO),),))
            await uow.outbox.enqueue(CHANNEL, user, reply, dedupe_key=f"zalo-card:{update_key}")
            await uow.commit()

    async def _interacted(self, key: str, user: str, *, say: str | None = None) -> None:
        """An interaction that is not a step of a flow: it still opens the window, so held messages leave."""
        async with self.runtime.uows() as uow:
            if not await uow.inbound.first_delivery(CHANNEL, key):
                return
            person = await uow.users.get_or_create(CHANNEL, user, user, language=self.settings.default_language.value)
            await release_held(uow, CHANNEL, user, person.language)
            if say is not None:
                await uow.outbox.enqueue(CHANNEL, user, Reply(t(person.language, say)), dedupe_key=f"reply:{key}")
            await uow.commit()

    async def _reachable_again(self, user: str, at: datetime) -> None:
        """An interaction after the unfollow on record undoes it as far as we know (Zalo will tell us if
        it still refuses); one from before it, delivered late, does not."""
        async with self.runtime.uows() as uow:
            result = await uow.session.execute(
                delete(ZaloUnfollow).where(ZaloUnfollow.user_id == user, ZaloUnfollow.unfollowed_at < at))
            if result.rowcount:
                await uow.commit()

    async def _tell_temporary_failure(self, user: str) -> None:
        try:
            await self.client.send(user, text_message(t(self.settings.default_language.value, "error.temporary")))
        except Exception:  # noqa: BLE001 - the notice is a courtesy; the database is the real problem
            log.warning("zalo: could not send the temporary-failure notice")
