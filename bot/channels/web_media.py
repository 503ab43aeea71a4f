"""``GET /media/<key>``: a photo stored from the web chat, shown only to those entitled to it.

A photo is evidence in a petition and often shows a face, a house or a licence plate, so its random
key is not enough. It is served to:
  - the browser that uploaded it (its chat cookie);
  - the citizen of an item it belongs to (their photo, or an officer's answer photo to their item);
  - staff with a live staff session whom the scope policy lets see such an item;
  - a platform's servers through a signed, expiring link (the Zalo Bot fetches the photos it sends).
Anyone else gets 404, the same as for a key that does not exist.
"""

from __future__ import annotations

import re

from aiohttp import web
from sqlalchemy import String, cast, select
from sqlalchemy.exc import SQLAlchemyError

from bot.officers import may_see
from storage.models import Attachment, ChannelIdentity, Item, ItemEvent

MEDIA_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


class MediaAccess:
    def __init__(self, chat):
        self.chat = chat  # the WebChat: cookies, visitors, the signing key

    async def media(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        if not MEDIA_KEY.fullmatch(key):  # keys are token_urlsafe: anything else is no photo of ours
            raise web.HTTPNotFound()
        expires, signature = request.query.get("exp"), request.query.get("sig")
        try:
            visitor = staff = None
            if expires is None or signature is None:
                visitor = await self.chat.visitor(request, create=False)
                if visitor is None or visitor.staff_session is None:
                    from bot.console.auth import console_session  # a console tab: the staff cookie alone

                    staff = await console_session(self.chat.runtime, request)
            else:
                await self.chat.load_signing_key()
            async with self.chat.runtime.uows() as uow:
                attachment = (await uow.session.execute(select(Attachment).where(Attachment.key == key))
                              ).scalar_one_or_none()
                if attachment is None:
                    raise web.HTTPNotFound()
                if expires is not None and signature is not None:
                    allowed = self.chat.security.media_link_valid(key, expires, signature)
                else:
                    allowed = await self._may_see(uow, visitor, attachment) or (
                        staff is not None and await _staff_may_see(uow, staff.user, attachment))
        except (SQLAlchemyError, OSError):
            return web.Response(status=503, headers={"Retry-After": "5"})
        if not allowed:
            raise web.HTTPNotFound()
        return web.Response(body=attachment.data, content_type=attachment.content_type,
                            headers={"Cache-Control": "private, max-age=3600", "Content-Disposition": "inline"})

    @staticmethod
    async def _may_see(uow, visitor, attachment: Attachment) -> bool:
        if visitor is None or visitor.staff_without_session:
            return False
        if attachment.channel == "web" and attachment.chat_id == visitor.chat_id:
            return True
        if visitor.user is None:
            return False
        for item in await _items_showing(uow, attachment):
            if item.citizen_id == visitor.user.id:
                return True
            if visitor.staff_session is not None and await may_see(uow, visitor.user, item):
                return True
        return False


async def _staff_may_see(uow, user, attachment: Attachment) -> bool:
    """A member of staff in the console: a photo of an item the scope policy lets them see."""
    for item in await _items_showing(uow, attachment):
        if await may_see(uow, user, item):
            return True
    return False


async def _items_showing(uow, attachment: Attachment) -> list[Item]:
    """The items the photo belongs to: those its uploader filed with it, and those they answered with it."""
    if attachment.channel == "console":  # uploaded in the staff console: chat_id holds the officer's user id
        uploader = int(attachment.chat_id) if attachment.chat_id.isdigit() else None
    else:
        uploader = (await uow.session.execute(select(ChannelIdentity.user_id).where(
            ChannelIdentity.channel == attachment.channel, ChannelIdentity.external_id == attachment.chat_id))
                    ).scalar_one_or_none()
    if uploader is None:
        return []
    ref = f"web:{attachment.key}"
    filed = (await uow.session.execute(select(Item).where(
        Item.citizen_id == uploader, cast(Item.photos, String).contains(ref, autoescape=True)))).scalars().all()
    answered = (await uow.session.execute(select(Item).join(ItemEvent, ItemEvent.item_id == Item.id).where(
        ItemEvent.actor_id == uploader, ItemEvent.action == "answer",
        cast(ItemEvent.data, String).contains(ref, autoescape=True)))).scalars().all()
    return [*(item for item in filed if ref in item.photos), *answered]  # the LIKE may match more
