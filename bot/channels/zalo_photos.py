"""Copies of the photos citizens send the Official Account.

Zalo hands us a CDN link whose lifetime it does not state; evidence in a petition must outlive it.
Each photo is fetched once, on receipt (after the webhook has been answered), checked by its content
(JPEG, PNG, GIF or WebP magic bytes, not the name or the header Zalo sends) and by size
(``TIEPDAN_MAX_PHOTO_BYTES``), and stored where the web chat keeps its uploads (``attachments``, served
at /media/<key> to those entitled to it), with the CDN link kept as ``source_url`` for provenance. The
petition refers to the copy as ``web:<key>``.

Only links on Zalo's own hosts (``TIEPDAN_ZALO_OA_PHOTO_HOSTS``) are fetched, so a forged link cannot
make us fetch an address inside our network. A photo that cannot be copied (the CDN down, too large,
not an image) keeps its link: the message is never lost, and the log says a copy failed (not whose).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from urllib.parse import urlsplit

import aiohttp

from bot.channels.web import image_type
from storage.models import Attachment

log = logging.getLogger(__name__)

CHANNEL = "zalo"
ATTEMPTS = 2
TIMEOUT = aiohttp.ClientTimeout(total=20)


class NotCopied(Exception):
    """Why a photo was not copied, in a word for the log."""


def allowed(url: str, hosts: tuple[str, ...]) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme in ("https", "http") and any(host == h or host.endswith("." + h) for h in hosts)


async def fetch(session: aiohttp.ClientSession, url: str, limit: int) -> tuple[bytes, str]:
    """The photo's bytes and type; raises NotCopied."""
    try:
        async with session.get(url, allow_redirects=False) as response:
            if response.status != 200:
                raise NotCopied(f"HTTP {response.status}")
            if response.content_length is not None and response.content_length > limit:
                raise NotCopied("too large")
            data = await response.content.read(limit + 1)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise NotCopied(type(exc).__name__) from exc
    if len(data) > limit:
        raise NotCopied("too large")
    content_type = image_type(data)
    if content_type is None:
        raise NotCopied("not a JPEG, PNG, GIF or WebP image")
    return data, content_type


async def copy_photos(session: aiohttp.ClientSession, uows, settings, user: str, refs: list[str]) -> list[str]:
    """Each CDN link replaced by its stored copy (``web:<key>``), or kept when it cannot be copied."""
    hosts = tuple(h.strip().lower() for h in settings.zalo_oa_photo_hosts.split(",") if h.strip())
    copies: list[str] = []
    for ref in refs:
        if not allowed(ref, hosts):
            copies.append(ref)
            continue
        copy = None
        for attempt in range(ATTEMPTS):
            try:
                data, content_type = await fetch(session, ref, settings.max_photo_bytes)
            except NotCopied as exc:
                reason = str(exc)
                if reason in ("too large", "not a JPEG, PNG, GIF or WebP image") or attempt == ATTEMPTS - 1:
                    log.warning("zalo: a photo could not be copied (%s); its Zalo link is kept", reason)
                    break
                await asyncio.sleep(1.0)
                continue
            key = secrets.token_urlsafe(24)
            async with uows() as uow:
                uow.session.add(Attachment(key=key, content_type=content_type, data=data, size=len(data),
                                           channel=CHANNEL, chat_id=user, source_url=ref))
                await uow.commit()
            copy = f"web:{key}"
            break
        copies.append(copy or ref)
    return copies
