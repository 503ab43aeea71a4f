"""Reading Zalo OA webhook events: the signature, who an event is from, when it happened, and a
user_send_* event in neutral form (bot/domain/dialog.py ``Incoming``). Pure functions, no I/O.

``user_submit_info`` comes in two shapes: the older ``info.{name, phone, address, ward, district,
city}`` and the newer one whose address is an object ``info.full_address.{address, ward, district,
city | province}`` (the phone then may be ``phone_number``). ``contact_fields`` reads both.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from bot.domain.dialog import Incoming, Location, Photo
from bot.domain.typed import without_nul

CHANNEL = "zalo"
BUTTON_PREFIX = "#b:"
# What we cannot take, as the pipeline names it in its polite answer (texts "media.<kind>").
UNSUPPORTED_EVENTS = {"user_send_sticker": "sticker", "user_send_audio": "voice", "user_send_video": "video",
                      "user_send_gif": "animation", "user_send_link": "link", "user_send_business_card": "contact"}
MESSAGE_EVENTS = ("user_send_text", "user_send_image", "user_send_location", "user_send_file", *UNSUPPORTED_EVENTS)
IMAGE_NAMES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".heic")
MAX_PHOTOS = 5


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
    """A user_send_* event in neutral form; None when it is not one we can read, or when it was
    written in a Zalo group chat (``group_info``/``group_id``): a petition is one to one, and an answer
    to a group would show a citizen's matter to everyone in it."""
    if event.get("group_info") or event.get("group_id") or str(event.get("event_name") or "").endswith("_group"):
        return None
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
    def text(holder: dict, *keys: str) -> str:
        for key in keys:
            value = holder.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
                return without_nul(str(value)).strip()
        return ""
    full = info.get("full_address")
    if isinstance(full, dict):  # the newer shape: the address as an object
        parts = (text(full, "address", "street", "detail"), text(full, "ward"), text(full, "district"),
                 text(full, "city", "province"))
    elif isinstance(full, str) and full.strip():
        parts = (full.strip(),)
    else:
        parts = (text(info, "address"), text(info, "ward"), text(info, "district"), text(info, "city"))
    address = ", ".join(part for part in parts if part)
    number = text(info, "phone", "phone_number")
    if not number and isinstance(full, dict):
        number = text(full, "phone", "phone_number")
    phone = "".join(c for c in number if c.isdigit() or c == "+")
    return {"name": text(info, "name", "full_name"), "address": address, "phone": phone}
