"""Zalo Official Account: the commune's OA webhook in, consultation messages out, through the same
flows as every other channel.

Webhook (developers.zalo.me: official-account/webhook/tong-quan). Zalo POSTs one JSON event and signs
it in ``X-ZEvent-Signature: mac=<hex>``, the SHA-256 of app id + raw body + the event's ``timestamp``
+ the OA secret key (chatwoot's Zalo integration computes the same; one third-party guide says the app
secret instead, so ``TIEPDAN_ZALO_OA_SIGNATURE_SECRET`` can choose: README "Deploying on Zalo").
We compare in constant time and answer 401 to anything else. Zalo wants a 200 within 2 seconds and retries otherwise, so the event is handled in a task
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

Photos: copied into our own storage when a step takes them, after the webhook is answered
(bot/channels/zalo_photos.py); the CDN link stays as provenance, and as the photo when a copy fails.

Sending, holding and the charged band: bot/channels/zalo_oa_sender.py. Template notices for held
notices: bot/channels/zalo_notices.py (a round every ``zalo_zns_poll_seconds``). Authorising the OA:
bot/channels/zalo_oauth.py (``/zalo/oauth/callback``). Reading events: bot/channels/zalo_oa_inbound.py.

The OA Manager's own replies (an officer typing in oa.zalo.me) reach Zalo's ``oa_send_*`` events, not
an item: they are not taken in (README "Deploying on Zalo" says so); officers answer through the bot.

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
import dataclasses
import hmac
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import aiohttp
from aiohttp import web
from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.connection import PlatformConnection, backoff
from bot.channels import zalo_oauth
from bot.channels.zalo_api import ZaloAuthError, ZaloOAClient, ZaloUnavailable, text_message
from bot.channels.zalo_notices import TemplateNotices
from bot.channels.zalo_oa_inbound import (  # noqa: F401 - re-exported: tests and the fake read them here
    BUTTON_PREFIX,
    MAX_PHOTOS,
    MESSAGE_EVENTS,
    UNSUPPORTED_EVENTS,
    contact_fields,
    event_time,
    signature,
    to_incoming,
    user_of,
)
from bot.channels.zalo_oa_sender import AUTH_RECHECK, REQUEST_INFO, WINDOW, ZaloOASender, render  # noqa: F401
from bot.channels.web import PHOTO_STEPS
from bot.channels.zalo_photos import copy_photos
from bot.domain.dialog import Button, Incoming, Photo, Reply
from bot.settings import Settings
from bot.texts import t
from handlers.pipeline import handle_incoming
from scheduler.outbox import DeliveryRetry, release_held  # noqa: F401 - DeliveryRetry: read here by tests
from storage.models import ProcessedUpdate, ZaloUnfollow, utcnow

log = logging.getLogger(__name__)

CHANNEL = "zalo"
SIGNATURE_HEADER = "X-ZEvent-Signature"
MAX_BODY = 256 * 1024
FOLLOW_STATE = "follow-state:{user}"  # inbound-dedupe key holding the time of the user's last (un)follow
CONTACT_STEPS = ("name", "address", "phone")
KEEP_FRESH_EVERY = 600.0  # seconds between checks that the access token outlives the next hour
KEEP_FRESH_AHEAD = timedelta(hours=1)


def _pause(failures: int, error: BaseException) -> float:
    """Before the next attempt to connect. A refused refresh token waits for an administrator: looking
    for their new pair is a read of the stored one, so it is looked for often; an OAuth that cannot
    be reached is tried with the usual growing pauses."""
    return AUTH_RECHECK if isinstance(error, ZaloAuthError) else backoff(failures, error)


def _describe(error: BaseException) -> str:
    """For the log: Zalo's own errors as they are (they never carry a token); anything else (a
    database error, whose text may hold the tokens being stored) by its kind only."""
    return str(error) if isinstance(error, (ZaloAuthError, ZaloUnavailable)) else type(error).__name__


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
        self.sender = ZaloOASender(self.client, runtime.uows, self.settings, clock=clock, connection=self.connection,
                                   sign_media=runtime.web_security.media_query)
        self.notices = TemplateNotices(self.client, runtime.uows, self.settings, clock=clock)
        self._templates: asyncio.Task | None = None
        self._photos: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task] = set()
        self._last_of_user: dict[str, asyncio.Task] = {}
        self._keeper: asyncio.Task | None = None
        self._seeded = False
        self._stopping = asyncio.Event()

    def routes(self) -> list[web.RouteDef]:
        return [web.post(self.settings.zalo_oa_webhook_path, self.webhook),
                web.get(zalo_oauth.CALLBACK_PATH, self.oauth_callback)]

    async def oauth_callback(self, request: web.Request) -> web.Response:
        """Where Zalo sends the administrator back after `tiepdan zalo authorize` (bot/channels/zalo_oauth.py)."""
        return await zalo_oauth.callback(request, self.runtime.uows, self.client, self.settings)

    async def start(self) -> None:
        """Store the configured pair and make sure a token can be had; if not, the channel is
        degraded and keeps trying in the background. Never raises: the rest serves either way."""
        self._stopping.clear()
        self._seeded = False
        await self.client.start()
        try:
            await self.runtime.web_chat.load_signing_key()  # copied photos go to Zalo as signed links
        except (SQLAlchemyError, OSError):
            log.warning("zalo oa: the signing key could not be read yet; photo links wait for it")
        self._photos = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))
        await self.connection.start()
        if getattr(self.runtime, "run_dispatcher", True):  # a process that sends (not --web-only)
            self._templates = asyncio.create_task(self._send_templates(), name="zalo-oa-templates")

    async def _connect(self) -> None:
        if not self._seeded:
            if self.settings.zalo_oa_refresh_token:  # else the pair comes from `tiepdan zalo authorize`
                await self.client.tokens.seed(self.settings.zalo_oa_access_token, self.settings.zalo_oa_refresh_token)
            self._seeded = True
        if self._keeper is None:
            self._keeper = asyncio.create_task(self._keep_token_fresh(), name="zalo-oa-token")
        await self.client.tokens.usable()

    def _connected(self) -> None:
        self.runtime.dispatcher.wake()  # what waited for the channel may leave now

    async def _send_templates(self) -> None:
        """Template notices for held notices, every ``zalo_zns_poll_seconds`` (bot/channels/zalo_notices.py)."""
        while True:
            try:
                await asyncio.wait_for(self._stopping.wait(), self.settings.zalo_zns_poll_seconds)
                return
            except TimeoutError:
                pass
            if self.connection.unavailable:
                continue
            try:
                await self.notices.run_once()
            except Exception:  # noqa: BLE001 - logged; the next round tries again
                log.warning("zalo zns: a round of template notices failed", exc_info=True)

    async def stop(self) -> None:
        self._stopping.set()
        if self._templates is not None:
            await self._templates
            self._templates = None
        await self.connection.stop()
        if self._keeper is not None:
            # Not cancelled: a refresh under way must store the rotated pair before we go.
            self._stopping.set()
            await self._keeper
            self._keeper = None
        await self.idle(timeout=5.0)
        await self.client.close()
        if self._photos is not None:
            await self._photos.close()
            self._photos = None

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
        secret = (self.settings.zalo_oa_app_secret if self.settings.zalo_oa_signature_secret == "app_secret"
                  else self.settings.zalo_oa_secret_key)
        expected = signature(self.settings.zalo_oa_app_id, body, str(timestamp), secret)
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
        if incoming.photos and self._photos is not None and await self._expects_photo(user):
            copies = await copy_photos(self._photos, self.runtime.uows, self.settings, user,
                                       [photo.ref for photo in incoming.photos])
            incoming = dataclasses.replace(incoming, photos=tuple(
                Photo(ref, photo.caption) for ref, photo in zip(copies, incoming.photos)))
        await handle_incoming(incoming, self.runtime.uows, self.settings)
        await self._offer_contact_card(user, incoming.update_key)

    async def _expects_photo(self, user: str) -> bool:
        """Photos are copied only for a step that takes them (as the web chat stores uploads)."""
        async with self.runtime.uows() as uow:
            state = await uow.conversations.load(CHANNEL, user, lock=False)
        if state is None:
            return False
        step = (state.flow, state.step)
        return step in PHOTO_STEPS or (step == ("officer", "text") and (state.data or {}).get("action") == "answer")

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
