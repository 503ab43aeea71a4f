"""Sending as the Zalo Official Account: outbox rows rendered as consultation messages
(bot/channels/zalo_api.py has the shapes), held when Zalo will not take them now.

Reaching a user: a reply is allowed within 7 days of their last interaction. A message outside the
window, to a user who unfollowed, or to one Zalo refuses as blocked is held on its outbox row with
the reason (scheduler/outbox.py) and released at their next interaction; a held notice of an item
may go meanwhile as a template notice (bot/channels/zalo_notices.py).

Billing: Zalo charges for messages sent 48 hours to 7 days after the user's last interaction. Every
message delivered in that band is counted for the citizen's commune; a notice whose commune chose
its template for that band is held (``charged_band``) and goes as a template instead.

Photos: a ``web:<key>`` photo (a web-chat upload, or a Zalo photo copied on receipt) is sent as a
signed, expiring link under ``TIEPDAN_ZALO_OA_PUBLIC_URL``, which Zalo's servers fetch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.channels.connection import PlatformConnection
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
from bot.channels.zalo_notices import CHARGED_AFTER, count_charged, prefers_template
from bot.channels.zalo_oa_inbound import BUTTON_PREFIX, CHANNEL, _is_url
from bot.domain.dialog import Reply
from bot.settings import Settings
from bot.texts import t
from scheduler.outbox import HOLDING_CHANNELS, DeliveryHeld, DeliveryRefused, DeliveryRetry
from storage.models import ChannelIdentity, User, ZaloUnfollow, utcnow

log = logging.getLogger(__name__)

REQUEST_INFO = "zalo:request_user_info"  # a button value the sender renders as Zalo's contact-sharing card
WINDOW = timedelta(days=7)
# Zalo's refusals that hold a message until the user's next interaction, by reason.
HELD = {-230: "window_closed", -232: "window_closed", -213: "unfollowed", -227: "blocked", -244: "blocked"}
REFUSED = (-100, -201, -210, -233)  # the message itself is wrong: retrying cannot help
LATER = {-211: 3600.0, -218: 3600.0}  # out of quota, the user's receiving limit: seconds to wait
AUTH_RECHECK = 5.0  # seconds between looks for a new authorisation's pair while OAuth refuses the stored one
ITEM_BUTTON = "g:item:"  # a notice about an item carries its "open" button


def render(reply: Reply, language: str, info_image_url: str | None,
           photo_url: Callable[[str], str | None] | None = None) -> list[dict[str, Any]]:
    """A reply as the Zalo messages that carry it, in order: photos, the text in parts of at most
    2000 characters with the first five buttons under the last part, then five more buttons a
    message. A reply offering REQUEST_INFO, or asking for the person's phone number, is Zalo's
    contact-sharing card. ``photo_url`` turns a photo reference into a URL Zalo can fetch."""
    if reply.phone_request is not None and info_image_url:
        return [contact_request(reply.phone_request, reply.text, info_image_url)]
    flat = [button for row in reply.buttons for button in row]
    card = next((b for b in flat if b.value == REQUEST_INFO), None)
    if card is not None and info_image_url:
        return [contact_request(card.label, reply.text, info_image_url)]
    urls = [(photo_url or (lambda ref: ref if _is_url(ref) else None))(ref) for ref in reply.photos]
    messages = [image_message(url) for url in urls if url]
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
                 connection: PlatformConnection | None = None, sign_media: Callable[[str], str] | None = None):
        HOLDING_CHANNELS.add(CHANNEL)
        self.client = client
        self.uows = uows
        self.settings = settings
        self.clock = clock
        self.connection = connection
        self.sign_media = sign_media  # key → the query of a link that works without a session

    def photo_url(self, ref: str) -> str | None:
        """A photo Zalo can fetch: a URL as is; a stored photo through our public /media/ link."""
        if _is_url(ref):
            return ref
        base = self.settings.zalo_oa_public_url
        if ref.startswith("web:") and base and self.sign_media is not None:
            return f"{base}/media/{ref[4:]}?{self.sign_media(ref[4:])}"
        return None

    async def send(self, chat_id: str, reply: Reply, parts_sent: int = 0) -> None:
        language, reason, last_seen = await self._reachability(chat_id)
        if reason is not None:
            raise DeliveryHeld(reason, "not attempted", parts_sent=parts_sent)
        if self.connection is not None and self.connection.unavailable:
            # Not the message's fault: it waits for the channel without using up an attempt.
            raise DeliveryRetry("zalo: not connected; waiting for the next attempt to connect",
                                after=self.connection.retry_in(), parts_sent=parts_sent)
        now = self.clock()
        charged = last_seen is not None and CHARGED_AFTER < now - last_seen <= WINDOW
        if charged and parts_sent == 0 and await self._template_instead(chat_id, reply):
            raise DeliveryHeld("charged_band", "the commune sends this notice as a template", parts_sent=0)
        messages = render(reply, language, self.settings.zalo_oa_info_image_url, self.photo_url)
        delivered = parts_sent
        try:
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
        finally:
            if charged and delivered > parts_sent:
                try:
                    await count_charged(self.uows, chat_id, delivered - parts_sent, self.settings, now)
                except Exception:  # noqa: BLE001 - a count missed must not turn a delivery into a failure
                    log.warning("zalo: a charged message could not be counted", exc_info=True)

    async def _template_instead(self, chat_id: str, reply: Reply) -> bool:
        items = [value[len(ITEM_BUTTON):] for value in reply.button_values() if value.startswith(ITEM_BUTTON)]
        if not items or not items[0].isdigit():
            return False
        async with self.uows() as uow:
            return await prefers_template(uow, chat_id, int(items[0]))

    async def _reachability(self, user: str) -> tuple[str, str | None, datetime | None]:
        """The user's language, why Zalo would refuse them now (None: try), and their last interaction."""
        async with self.uows() as uow:
            unfollowed = await uow.session.get(ZaloUnfollow, user)
            row = (await uow.session.execute(
                select(User.language, ChannelIdentity.last_seen_at).join(User, User.id == ChannelIdentity.user_id)
                .where(ChannelIdentity.channel == CHANNEL, ChannelIdentity.external_id == user))).first()
        language = row.language if row is not None else self.settings.default_language.value
        last_seen = row.last_seen_at if row is not None else None
        if unfollowed is not None:
            return language, "unfollowed", last_seen
        if last_seen is not None and self.clock() - last_seen > WINDOW:
            return language, "window_closed", last_seen
        return language, None, last_seen


def _outcome(error: ZaloAPIError, delivered: int) -> Exception:
    if error.code in HELD:
        return DeliveryHeld(HELD[error.code], str(error), parts_sent=delivered)
    if error.code in REFUSED:
        return DeliveryRefused(str(error))
    if error.code in LATER:
        return DeliveryRetry(str(error), after=LATER[error.code], parts_sent=delivered)
    return DeliveryRetry(str(error), parts_sent=delivered)
