"""One path for every channel: an ``Incoming`` in, replies into the outbox, all in one transaction.

    adapter ──Incoming──▶ handle_incoming ──▶ flow step ──▶ outbox rows (same commit)

Bad input never reaches a flow: empty, oversized, unsupported media, unknown commands and buttons
from an old or forged menu get a short answer in the user's language, and the current step is shown
again so the conversation stays usable.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from enum import Enum

from sqlalchemy.exc import SQLAlchemyError

from bot.domain.dialog import Button, Conversation, Incoming, Reply
from bot.settings import Settings
from bot.texts import has, t
from handlers import consultations, menu, officer, privacy, publications, schedules, start, statistics, submit, track  # noqa: F401  (flows register themselves)
from handlers.core import FLOWS, FlowContext
from handlers.flood import turned_away
from handlers.numbered import answer_by_number
from scheduler.outbox import release_held
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

class Outcome(str, Enum):
    handled = "handled"
    duplicate = "duplicate"
    flooded = "flooded"  # over the sender's flood limit: acknowledged, not run through a flow


@dataclass
class Result:
    outcome: Outcome
    replies: list[Reply]
    user_id: int | None = None


async def handle_incoming(incoming: Incoming, uows: UnitOfWorkFactory, settings: Settings, *,
                          flood_checked: bool = False) -> Result:
    """Process one delivery. Database errors propagate (the adapter asks the user to retry); any
    other failure inside a flow is answered politely and the conversation stays where it was.
    ``flood_checked``: the adapter already passed the delivery through the flood gate (a web upload
    is checked before its photo is stored)."""
    if not flood_checked and await turned_away(incoming, uows, settings):
        return Result(Outcome.flooded, [])
    try:
        return await _process(incoming, uows, settings)
    except (SQLAlchemyError, OSError):  # asyncpg's refused connection is a bare OSError, not wrapped
        raise
    except Exception:
        log.exception("flow failed channel=%s update=%s", incoming.channel, incoming.update_key)
        return await _apologise(incoming, uows, settings)


async def _apologise(incoming: Incoming, uows: UnitOfWorkFactory, settings: Settings) -> Result:
    async with uows() as uow:
        if not await uow.inbound.first_delivery(incoming.channel, incoming.update_key):
            return Result(Outcome.duplicate, [])
        user = await uow.users.get_or_create(incoming.channel, incoming.user_id, incoming.chat_id,
                                             language=settings.default_language.value)
        reply = Reply(t(user.language, "error.internal"), ((Button(t(user.language, "menu.back"), "g:menu"),),))
        await uow.outbox.enqueue(incoming.channel, incoming.chat_id, reply,
                                 dedupe_key=f"reply:{incoming.channel}:{incoming.update_key}:error")
        await uow.commit()
        return Result(Outcome.handled, [reply], user.id)


async def _process(incoming: Incoming, uows: UnitOfWorkFactory, settings: Settings) -> Result:
    async with uows() as uow:
        if not await uow.inbound.first_delivery(incoming.channel, incoming.update_key):
            log.info("ignored redelivery channel=%s update=%s", incoming.channel, incoming.update_key)
            return Result(Outcome.duplicate, [])
        user = await uow.users.get_or_create(
            incoming.channel, incoming.user_id, incoming.chat_id, language=_first_language(incoming, settings)
        )
        # Messages a platform held until this chat's next interaction (Zalo's 7-day window) leave first.
        await release_held(uow, incoming.channel, incoming.chat_id, user.language)
        row = await uow.conversations.load(incoming.channel, incoming.chat_id)
        # A deep copy: flows change nested values in place, and the row must see a new value to save it.
        conversation = (
            Conversation(row.flow, row.step, copy.deepcopy(row.data or {}), list(row.expected_buttons or []))
            if row is not None else Conversation()
        )
        ctx = FlowContext(uow=uow, user=user, incoming=incoming, conversation=conversation, settings=settings)
        await _route(ctx, is_new=row is None)
        conversation.expected_buttons = [v for r in ctx.replies for v in r.button_values()] or \
            conversation.expected_buttons
        await uow.conversations.save(incoming.channel, incoming.chat_id, user.id, conversation, row)
        key = f"reply:{incoming.channel}:{incoming.update_key}"
        await uow.outbox.enqueue_all(incoming.channel, incoming.chat_id,
                                     [(reply, f"{key}:{index}") for index, reply in enumerate(ctx.replies)])
        await uow.commit()
        return Result(Outcome.handled, ctx.replies, user.id)


def _first_language(incoming: Incoming, settings: Settings) -> str:
    """Vietnamese unless configured otherwise; an English-language client starts in English."""
    hint = (incoming.platform_language or "").split("-")[0].lower()
    return "en" if hint == "en" else settings.default_language.value


async def _route(ctx: FlowContext, *, is_new: bool) -> None:
    if not is_new and await answer_by_number(ctx):  # keyboard-less channels: "2" stands for the 2nd button
        return
    incoming = ctx.incoming
    if is_new and incoming.command != "start":
        # First contact that is not /start (a web visitor typing, a Zalo follower): greet first.
        await ctx.goto("start", "language")
        return
    if incoming.unsupported:
        kind = f"media.{incoming.unsupported}"
        ctx.say("error.unsupported", what=ctx.text(kind if has(kind) else "media.other"))
        await _reprompt(ctx)
        return
    if incoming.button is not None:
        await _on_button(ctx)
        return
    if incoming.text is not None and not incoming.photos and incoming.location is None:
        if not incoming.text.strip():
            ctx.say("error.empty")
            await _reprompt(ctx)
            return
        if len(incoming.text) > ctx.settings.max_text_length:
            ctx.say("error.too_long", length=len(incoming.text), limit=ctx.settings.max_text_length)
            await _reprompt(ctx)
            return
        if incoming.command is not None:
            await _on_command(ctx, incoming.command)
            return
    await FLOWS[ctx.conversation.flow].handle(ctx)


async def _on_command(ctx: FlowContext, command: str) -> None:
    if command == "start":
        await FLOWS["start"].begin(ctx)
    elif command == "menu":
        await ctx.goto("menu", "main")
    elif command == "help":
        await FLOWS["menu"].show_help(ctx)
        await _reprompt(ctx)
    elif command == "officer":
        await FLOWS["officer"].redeem(ctx, ctx.incoming.command_argument)
    elif command == "inbox":
        await FLOWS["officer"].open_inbox(ctx)
    elif command == "privacy":
        await ctx.goto("privacy", "show")
    elif command == "cancel":
        ctx.say("cancelled")
        await ctx.goto("menu", "main")
    else:
        ctx.say("error.unknown_command", command=command[:32])
        await _reprompt(ctx)


async def _on_button(ctx: FlowContext) -> None:
    value = ctx.incoming.button
    if value == "g:menu":
        await ctx.goto("menu", "main")
    elif value == "g:help":
        await FLOWS["menu"].show_help(ctx)
        await _reprompt(ctx)
    elif value == "g:start":
        await FLOWS["start"].begin(ctx)
    elif value.startswith("g:oi:") and value[5:].isdigit():
        await FLOWS["officer"].open_item(ctx, int(value[5:]))
    elif value.startswith("g:item:") and value[7:].isdigit():
        # From a notification: open that item (the track flow shows only the citizen's own items).
        await ctx.goto("track", "detail", item_id=int(value[7:]))
    elif value not in ctx.conversation.expected_buttons:
        ctx.say("error.expired_button")
        await _reprompt(ctx)
    else:
        await FLOWS[ctx.conversation.flow].handle(ctx)


async def _reprompt(ctx: FlowContext) -> None:
    await FLOWS[ctx.conversation.flow].prompt(ctx)

