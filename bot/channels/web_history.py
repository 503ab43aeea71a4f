"""The web chat's history: both sides of the conversation, read a page at a time, and which
messages' buttons are still live.

The chat's log is its outbox rows (bot/channels/web.py). Besides the bot's messages it holds the
person's own lines, written by the pipeline in the same commit as the replies they caused
(``OutboxRepository.transcribe``, dedupe key ``said:web:…``, status already ``sent``), so one id
sequence orders both sides and a reload shows the conversation as it was typed. No table of its
own: the privacy erasure and the retention sweep already delete a chat's outbox rows.

    GET /api/chat/history?before=<id>&limit=<n>   the newest page (no ``before``) or the one older than ``before``

A bot message's buttons are live until the person says something after it (a tap, a typed line, a
photo, a location). The page greys older ones, and a press that names its message is refused here
(``check_press``) when that message is no longer live, instead of acting on an old menu.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.media import photos_for
from storage.models import OutboxMessage
from storage.repositories_outbox import OutboxRepository

CHANNEL = "web"
SAID = f"said:{CHANNEL}:"
PAGE = 40
MAX_PAGE = 100
MAX_LINE = 4000  # a longer text is refused by the pipeline (error.too_long); its line keeps the start

# The label of the button a press names, by the press's update key, for the line it leaves: set by the
# adapter just before the pipeline runs the press and removed right after (same process, same request).
pressed_labels: dict[str, str] = {}


class StalePress(Exception):
    """The message whose button was pressed is no longer live: the person has said something since."""


class UnknownPress(Exception):
    """No such message in this chat, or no such button on it: a forged or mangled press."""


def transcript_line(incoming) -> dict | None:
    """What the person did, as the page shows it on their side; None for what is not shown (the
    page's own automatic /start). An invite code never enters the history."""
    # Shaped like the bot's messages (text, buttons, photos) for any reader; "ref": the page's bubble.
    line: dict = {"from": "me", "ref": incoming.update_key.partition(":")[2], "text": "", "buttons": [], "photos": []}
    if incoming.photos:
        line.update(text="", photos=photos_for(CHANNEL, [photo.ref for photo in incoming.photos])[0])
    elif incoming.location is not None:
        where = incoming.location
        line.update(text=f"📍 {where.latitude:.5f}, {where.longitude:.5f}",
                    location={"latitude": where.latitude, "longitude": where.longitude})
    elif incoming.button is not None:
        # A press that did not name its message (an older page, an API client): labelled when read.
        line.update(button=incoming.button, text=pressed_labels.get(incoming.update_key, ""))
    elif incoming.text is not None:
        command = incoming.command
        if command == "start":
            return None
        line["text"] = "/officer" if command == "officer" else incoming.text[:MAX_LINE]
    else:
        return None
    return line


OutboxRepository.transcribers[CHANNEL] = transcript_line


def is_said(row) -> bool:
    return row.dedupe_key.startswith(SAID)


def message(row) -> dict:
    return {"id": row.id, **row.payload}


def mark_live(messages: list[dict], said_after: bool = False) -> list[dict]:
    """Set ``live`` on each bot message with buttons: true unless a line of the person's follows it
    (in ``messages``, which are in id order, or after them: ``said_after``). A press without its
    label gets the label of the button it pressed, from the messages before it."""
    labels: dict[str, str] = {}
    for entry in messages:
        if entry.get("from") == "me" and entry.get("button") and not entry.get("text"):
            entry["text"] = labels.get(entry["button"], "")
        for line in entry.get("buttons") or ():
            labels.update((b.get("value"), b.get("label")) for b in line if isinstance(b, dict))
    live = not said_after
    for entry in reversed(messages):
        if entry.get("from") == "me":
            live = False
        elif entry.get("buttons"):
            entry["live"] = live
    return messages


async def said_since(uow, chat_id: str, message_id: int, *, besides: str | None = None) -> bool:
    """Whether the person has said anything in this chat after message ``message_id`` (other than
    the line of delivery ``besides``: a resent press finds its own first delivery's line)."""
    query = select(OutboxMessage.id).where(OutboxMessage.channel == CHANNEL, OutboxMessage.chat_id == chat_id,
                                           OutboxMessage.id > message_id, OutboxMessage.dedupe_key.startswith(SAID))
    if besides is not None:
        query = query.where(OutboxMessage.dedupe_key != SAID + besides)
    return (await uow.session.execute(query.limit(1))).first() is not None


async def page(uow, chat_id: str, before: int | None, limit: int) -> tuple[list[dict], bool]:
    """Up to ``limit`` messages of the chat older than ``before`` (the newest when None), oldest first,
    and whether there are older ones still."""
    query = select(OutboxMessage).where(OutboxMessage.channel == CHANNEL, OutboxMessage.chat_id == chat_id)
    if before is not None:
        query = query.where(OutboxMessage.id < before)
    rows = list((await uow.session.execute(query.order_by(OutboxMessage.id.desc()).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit][::-1]
    said_after = before is not None and bool(rows) and await said_since(uow, chat_id, rows[-1].id)
    return mark_live([message(row) for row in rows], said_after), more


async def check_press(uow, chat_id: str, message_id: int, value: str, update_key: str) -> str:
    """The label of the button ``value`` on message ``message_id`` of this chat, if that message is
    still live for the press ``update_key``. Raises ``UnknownPress`` or ``StalePress``."""
    row = await uow.session.get(OutboxMessage, message_id)
    if row is None or row.channel != CHANNEL or row.chat_id != chat_id or is_said(row):
        raise UnknownPress()
    label = next((button.get("label") for line in row.payload.get("buttons") or () for button in line
                  if isinstance(button, dict) and button.get("value") == value), None)
    if not isinstance(label, str):
        raise UnknownPress()
    if await said_since(uow, chat_id, message_id, besides=update_key):
        raise StalePress()
    return label
