"""Issue 18, item 2 on Telegram: old keyboards are taken away, and an old button is never acted on.

A citizen scrolling back up a Telegram chat finds the buttons of earlier steps still there; pressing
one used to run it. Now each step takes the superseded keyboard off its message
(``editMessageReplyMarkup`` through the outbox: after the new step's replies, once, even across a
crash), and a press on a superseded button is answered with a clear message and the current step.
On SQLite and PostgreSQL, through python-telegram-bot and the recording fake of the Bot API.
"""

from __future__ import annotations

from tests.telegram_fake import button_update
from tests.test_telegram import ASK_COMMUNE, CHAT, MENU, STALE_BUTTON, open_bot, tg_settings, update_ids  # noqa: F401


def messages(api) -> list[tuple[int, str, dict]]:
    """Every message the fake Bot API accepted, with the id it gave it, its kind and its parameters."""
    found, number = [], 100
    for index, (method, params) in enumerate(api.calls):
        if method in ("sendMessage", "sendPhoto") and params in api.answered(method):
            number += 1
            found.append((number, method, params))
    return found


def pressable(api, chat: int) -> dict[int, list[str]]:
    """What the chat shows now: message id → the callback data of the buttons still under it."""
    shown = {}
    for number, method, params in messages(api):
        markup = params.get("reply_markup") or {}
        if int(params["chat_id"]) == chat and markup.get("inline_keyboard"):
            shown[number] = [b["callback_data"] for row in markup["inline_keyboard"] for b in row]
    for params in api.answered("editMessageReplyMarkup"):
        if int(params["chat_id"]) == chat and not (params.get("reply_markup") or {}).get("inline_keyboard"):
            shown.pop(int(params["message_id"]), None)
    return shown


async def test_each_step_takes_the_previous_keyboard_off_its_message(open_bot):
    bot = await open_bot()
    await bot.say("/start")
    [(language_message, values)] = pressable(bot.api, CHAT).items()
    assert values == ["lang:vi", "lang:en"]

    await bot.press("lang:vi")  # the commune question has no buttons: the language ones go anyway
    assert pressable(bot.api, CHAT) == {}
    [edit] = bot.api.answered("editMessageReplyMarkup")
    assert int(edit["message_id"]) == language_message
    # Sent after the new step's replies: the citizen sees where they are first.
    methods = [method for method, _ in bot.api.calls if method in ("sendMessage", "editMessageReplyMarkup")]
    assert methods[-1] == "editMessageReplyMarkup" and bot.api.sent_texts(CHAT)[-1] == ASK_COMMUNE

    await bot.say("hoan kiem")
    await bot.press("commune:70")
    await bot.press("menu:submit")
    await bot.press("kind:feedback")
    # Through every step only the latest keyboard is left to press.
    [(latest, values)] = pressable(bot.api, CHAT).items()
    assert latest == messages(bot.api)[-1][0] and "category:land" in values
    assert bot.api.count("editMessageReplyMarkup") == 4  # pick-commune, menu, kind question, + language


async def test_a_button_of_a_superseded_step_is_refused_not_acted_on(open_bot):
    bot = await open_bot()
    await bot.say("/start")
    await bot.press("lang:vi")
    # Still at the commune question: the language keyboard is superseded, pressing it changes nothing.
    assert await bot.press("lang:en") == [STALE_BUTTON, ASK_COMMUNE]
    await bot.say("hoan kiem")
    await bot.press("commune:70")
    # The menu came in Vietnamese: the old «English» press changed nothing; a second press on the old
    # search results does not choose the commune again.
    assert await bot.press("commune:70") == [STALE_BUTTON, MENU]


async def test_taking_buttons_away_survives_a_crash_and_happens_once(open_bot):
    first = await open_bot()
    await first.say("/start")
    [(language_message, _)] = pressable(first.api, CHAT).items()
    await first.feed(button_update(next(update_ids), CHAT, "lang:vi"), deliver=False)  # written, not sent
    await first.close()  # the process dies before its dispatcher sends anything

    second = await open_bot()
    await second.runtime.dispatcher.drain()
    await second.runtime.dispatcher.drain()
    [edit] = second.api.answered("editMessageReplyMarkup")
    assert int(edit["message_id"]) == language_message and int(edit["chat_id"]) == CHAT
    assert second.api.sent_texts(CHAT)[-1] == ASK_COMMUNE
    rows = await second.outbox()
    assert all(row.status == "sent" for row in rows)


async def test_a_keyboard_the_citizen_deleted_is_no_failure(open_bot):
    bot = await open_bot()
    await bot.say("/start")
    bot.api.fail_next("editMessageReplyMarkup", status=400, description="Bad Request: message to edit not found")
    await bot.press("lang:vi")
    assert bot.api.sent_texts(CHAT)[-1] == ASK_COMMUNE
    assert [method for method, _ in bot.api.failed] == ["editMessageReplyMarkup"]  # tried, refused, done with
    assert [row.status for row in await bot.outbox()] == ["sent"] * len(await bot.outbox())
    assert await bot.say("hoan kiem")  # the conversation goes on
