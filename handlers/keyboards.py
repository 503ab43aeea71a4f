"""Which buttons a chat may still press after a step, and taking the old ones away on Telegram.

A keyboard stays valid while its step is current. It is superseded when a step shows a new one, or
when the conversation moves to another step that shows none: from then on the server refuses its
presses (handlers/pipeline.py, ``error.expired_button``), and on a channel that can edit a message's
buttons away (Telegram's ``editMessageReplyMarkup``) it is taken off the old message too, so an older
citizen scrolling back sees nothing left to press.

Taking a keyboard away goes through the outbox like any reply: written in the step's transaction
(a crash loses nothing, a redelivered update writes nothing twice: the row's dedupe key is the
step's), and sent after the step's own replies, so the citizen sees the new step first. The outbox
row names the earlier reply by its dedupe key; the dispatcher finds the platform's message id that
the earlier send recorded (scheduler/outbox.py).
"""

from __future__ import annotations

from bot.domain.dialog import Reply

# Channels whose sender can take buttons off a message already sent.
EDITING_CHANNELS = {"telegram"}
# Scratch data kept across flows (handlers/core.py keeps keys starting with "_"): the dedupe keys of
# the replies whose keyboard is the chat's current one.
SHOWN = "_keyboards"


def clearing(key: str) -> Reply:
    """An outbox entry that takes the buttons off the reply written with dedupe key ``key``."""
    return Reply(text="", clears=key)


def settle(ctx, before: tuple[str, str], reply_key: str) -> list[tuple[Reply, str]]:
    """After a step: update the buttons the chat may press, and return the outbox entries (reply,
    dedupe key) that take superseded keyboards off the chat's old messages."""
    conversation = ctx.conversation
    values = [value for reply in ctx.replies for value in reply.button_values()]
    moved = (conversation.flow, conversation.step) != before
    if values:
        conversation.expected_buttons = values
    elif moved:
        conversation.expected_buttons = []
    else:
        return []  # the same step, nothing new shown: its keyboard is still the one to press
    shown = [f"{reply_key}:{index}" for index, reply in enumerate(ctx.replies) if reply.buttons]
    old = conversation.data.pop(SHOWN, None) or []
    if shown and ctx.incoming.channel in EDITING_CHANNELS:
        conversation.data[SHOWN] = shown
    if ctx.incoming.channel not in EDITING_CHANNELS:
        return []
    return [(clearing(key), f"{reply_key}:clear:{position}") for position, key in enumerate(old)]
