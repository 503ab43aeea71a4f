"""Telegram: a citizen who blocked the bot, and updates from groups (issue 14), on SQLite and PostgreSQL.

Through the same harness as the journeys (tests/test_telegram_journeys.py): updates go in through
python-telegram-bot, replies leave through the outbox to the recording fake of the Bot API.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.officers import create_invite
from storage.models import ConversationState, Item, ItemEvent, OutboxMessage, ProcessedUpdate, Unit, User
from tests.telegram_fake import button_update, photo_update, text_update
from tests.test_telegram import CHAT, MENU, update_ids
from tests.test_telegram_journeys import (  # noqa: F401  (fixtures)
    OFFICER_CHAT,
    Citizen,
    bot,
    file_anonymous_feedback,
    lan,
    processes,
    rows,
    tg_settings,
)

HELD_ONE = "⏳ 1 tin nhắn dưới đây chưa gửi được cho bạn lúc trước nên đã được giữ lại; nay gửi lại theo thứ tự."
OFFICER_TOLD = "Không gửi được thông báo cho người dân (sẽ gửi khi họ nhắn lại)"
GROUP = -1001234567890


# -- 7. a citizen who blocked the bot ---------------------------------------------------------------------

async def officer_of(bot, item: Item) -> Citizen:
    """An officer of the unit the item was routed to, in their own Telegram chat."""
    officer = Citizen(bot, OFFICER_CHAT)
    await officer.start_in_hoan_kiem()
    [unit] = await rows(bot, Unit, Unit.id == item.unit_id)
    code = await create_invite(bot.runtime.uows, unit.id, "officer")
    assert (await officer.say(f"/officer {code}"))[0] == f"Bạn đã được ghi nhận là cán bộ của {unit.name}."
    return officer


async def test_a_notice_to_a_citizen_who_blocked_the_bot_is_held_shown_and_sent_when_they_write(bot, lan):
    code = await file_anonymous_feedback(lan)
    [item] = await rows(bot, Item)
    officer = await officer_of(bot, item)
    bot.api.block(CHAT)  # Lan blocks the bot

    await officer.press(f"g:oi:{item.id}")
    heard = await officer.press("oa:accept")
    assert heard[0] == f"Đã thực hiện «✅ Thụ lý» cho hồ sơ {code}."
    [notice] = await rows(bot, OutboxMessage, OutboxMessage.item_id == item.id, OutboxMessage.chat_id == str(CHAT))
    assert notice.status == "held"
    assert notice.last_error.startswith("blocked: ") and "bot was blocked by the user" in notice.last_error
    [held] = await rows(bot, ItemEvent, ItemEvent.item_id == item.id, ItemEvent.action == "notice_held")
    assert held.data == {"channel": "telegram", "reason": "blocked"}

    # The officer sees on the item that the citizen could not be reached.
    view = (await officer.press(f"g:oi:{item.id}"))[-1]
    assert OFFICER_TOLD in view

    # Nothing is tried again while Lan has the bot blocked.
    tried = [params for method, params in bot.api.calls if method == "sendMessage" and params["chat_id"] == CHAT]
    await bot.wait_a_while(3600)
    await bot.runtime.dispatcher.drain()
    assert [params for method, params in bot.api.calls
            if method == "sendMessage" and params["chat_id"] == CHAT] == tried

    # Lan unblocks and writes: the held notice comes first, saying it was held, then the answer.
    bot.api.unblock(CHAT)
    back = await lan.press("g:menu")
    assert back[0].startswith(HELD_ONE + "\n\n🔔 Hồ sơ " + code) and back[1:] == [MENU]
    [notice] = await rows(bot, OutboxMessage, OutboxMessage.id == notice.id)
    assert notice.status == "sent"
    assert [e.data for e in await rows(bot, ItemEvent, ItemEvent.item_id == item.id,
                                       ItemEvent.action == "notice_released")] == [{"channel": "telegram"}]


async def test_a_403_other_than_blocked_is_a_refusal_not_held(bot, lan):
    bot.api.fail_next("sendMessage", status=403, description="Forbidden: user is deactivated")
    assert await lan.press("g:menu") == []
    # The reply (the entry after it, taking the old keyboard away, waits behind it: issue 18).
    [row] = [r for r in await rows(bot, OutboxMessage) if not r.payload.get("clears")][-1:]
    assert row.status == "failed" and "user is deactivated" in row.last_error


# -- 8. groups, supergroups and channels --------------------------------------------------------------------

async def counts(bot) -> tuple[int, int, int]:
    async with bot.runtime.uows() as uow:
        return tuple([(await uow.session.execute(select(func.count()).select_from(model))).scalar_one()
                      for model in (ProcessedUpdate, ConversationState, User)])


@pytest.mark.parametrize("chat_type", ["group", "supergroup", "channel"])
async def test_updates_from_a_group_are_acknowledged_and_nothing_else(bot, lan, chat_type):
    code = await file_anonymous_feedback(lan)
    [item] = await rows(bot, Item)
    before = await counts(bot)

    # Lan's notification was forwarded to her residents' group, and someone presses its button there.
    presses = [button_update(next(update_ids), GROUP, f"g:item:{item.id}", user_id=CHAT, chat_type=chat_type)
               for _ in range(2)]
    for press in presses:
        await lan.feed(press)
    # Messages written in the group, to the bot or not.
    for update in (text_update(next(update_ids), GROUP, "/start", user_id=CHAT, chat_type=chat_type),
                   text_update(next(update_ids), GROUP, code, user_id=CHAT, chat_type=chat_type),
                   photo_update(next(update_ids), GROUP, "Ổ gà", user_id=CHAT)):
        update["message"]["chat"] = {"id": GROUP, "type": chat_type, "title": "Tổ dân phố số 3"}
        await lan.feed(update)

    assert bot.api.sent(GROUP) == [] and bot.api.answered("sendPhoto") == []
    answered = {params["callback_query_id"] for params in bot.api.answered("answerCallbackQuery")}
    assert {press["callback_query"]["id"] for press in presses} <= answered  # the buttons stopped spinning
    assert await counts(bot) == before  # nothing stored: no delivery, conversation or person
    assert await rows(bot, ConversationState, ConversationState.chat_id == str(GROUP)) == []
