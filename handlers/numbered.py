"""Numbered choices for channels without keyboards (the Zalo Bot Platform; an SMS channel later).

Such a channel cannot show buttons, so the buttons of a message are written under its text as
numbered lines, and a reply of just that number stands for the button:

    Bạn muốn gửi loại nào?
    1. 💬 Phản ánh, kiến nghị
    2. ⚖️ Khiếu nại

What each number stands for is decided when the message is queued (``OutboxRepository.enqueue``
calls ``render``) and kept with the chat's conversation (``data["numbered"]``) in that same
transaction, so any process resolves it the same way and a restart loses nothing. The rules:

- The first message with buttons of a step (a citizen's message and the replies it causes) starts
  again at 1: a number always means a line of the latest menu.
- A notification queued between steps (an officer's «Mở hồ sơ», an item's status) continues the
  numbering after the menu on screen, so its number means nothing else until the next step.
- Where a step takes the citizen's own words (a description, a typed place, a phone number, a
  percentage...), a bare number is those words, never a choice; its options are written ``#1``,
  ``#2`` and only ``#1`` picks one. Everywhere else ``1``, ``1.``, ``#1`` and `` 1 `` all pick line 1,
  and a number that is on no line gets a polite "choose one of the numbers" and the step again.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bot.domain.dialog import Reply
from bot.texts import t
from handlers.core import FLOWS, FlowContext
from storage.models import User
from storage.repositories import ConversationRepository
from storage.repositories_outbox import OutboxRepository

KEY = "numbered"

# Steps whose typed answer is the citizen's (or officer's) own text, where a number can be the answer
# itself: a house number as the place, a phone number, a percentage, a short reason. Every other step
# either takes buttons only, or takes text that is never a short number (a tracking code, a commune
# name), so a number there is a choice.
FREE_TEXT_STEPS = frozenset({
    ("start", "commune"),
    ("submit", "description"), ("submit", "location"), ("submit", "name"), ("submit", "address"),
    ("submit", "phone"), ("submit", "part_description"),
    ("track", "add_info"), ("track", "rate_comment"), ("track", "second_reason"),
    ("consultations", "comment"),
    ("officer", "text"), ("officer", "reveal"), ("officer", "announce_text"), ("officer", "project_progress"),
    ("officer", "project_note"), ("officer", "close_reason"),
})

_TYPED = re.compile(r"^\s*(#)?\s*(\d{1,3})\s*[.)]?\s*$")
_channels: set[str] = set()


def enable(channel: str) -> None:
    """Number the buttons of every message queued for ``channel`` and take numbers typed on it as choices."""
    _channels.add(channel)
    OutboxRepository.renderers[channel] = render


def enabled(channel: str) -> bool:
    return channel in _channels


def takes_free_text(flow: str, step: str) -> bool:
    return (flow, step) in FREE_TEXT_STEPS


def typed_number(text: str) -> tuple[int, bool] | None:
    """``"2"``, ``" 2. "``, ``"2)"`` → (2, False); ``"#2"`` → (2, True); anything else → None."""
    match = _TYPED.match(text)
    return (int(match.group(2)), match.group(1) is not None) if match else None


# -- in: a typed number becomes the button it stands for ---------------------------------------------

async def answer_by_number(ctx: FlowContext) -> bool:
    """Turn a typed number into its button on ``ctx.incoming``. True when the number was answered
    here (it matched no line: the citizen is asked to choose again) and the flow must not run."""
    incoming, conversation = ctx.incoming, ctx.conversation
    if not enabled(incoming.channel) or incoming.text is None or incoming.button is not None \
            or incoming.photos or incoming.location is not None:
        return False
    typed = typed_number(incoming.text)
    if typed is None:
        return False
    number, hashed = typed
    free_text = takes_free_text(conversation.flow, conversation.step)
    if free_text and not hashed:
        return False  # a house number, a phone number: the citizen's own words
    value = ((conversation.data.get(KEY) or {}).get("choices") or {}).get(str(number))
    if value is None:
        if free_text:
            return False  # "#12" that matches nothing is still the citizen's text
        ctx.say("zalobot.no_such_choice", number=number)
        await FLOWS[conversation.flow].prompt(ctx)
        return True
    ctx.incoming = replace(incoming, text=None, button=value)
    return False


# -- out: a message's buttons become numbered lines as it is queued -------------------------------------

async def render(outbox: OutboxRepository, channel: str, chat_id: str, reply: Reply, dedupe_key: str) -> Reply:
    """The reply with its buttons written as numbered lines; what the numbers stand for is saved with
    the chat's conversation in the transaction that queues the reply."""
    if not reply.buttons:
        return reply
    # Fresh: in a group commit another delivery's step may have numbered a notice to this chat before
    # this chat's own step wrote its conversation (handlers/pipeline.py).
    row = await ConversationRepository(outbox.session).load(channel, chat_id, fresh=True)
    if row is None:  # nobody to answer: show the choices without numbers that could not be resolved
        return replace(reply, text="\n".join([reply.text, "", *(f"• {b.label}" for r in reply.buttons for b in r)]))
    saved = dict((row.data or {}).get(KEY) or {})
    choices: dict[str, str] = dict(saved.get("choices") or {})
    # Numbers given in this transaction, by chat: the pipeline saves the conversation it loaded after
    # the flow ran, which would forget a notification to this same chat queued during the step.
    given_now: dict[str, str] = outbox.rendered.setdefault((channel, chat_id), {})
    step = _step_of(channel, dedupe_key)
    if step is not None and saved.get("step") != step:
        choices = dict(given_now)  # a new step's menu replaces the old one
        saved["step"] = step
    free_text = takes_free_text(row.flow, row.step)
    number = max(map(int, choices), default=0)
    lines = []
    for button in (b for r in reply.buttons for b in r):
        number += 1
        choices[str(number)] = given_now[str(number)] = button.value
        lines.append(f"#{number} {button.label}" if free_text else f"{number}. {button.label}")
    if free_text:
        user = await outbox.session.get(User, row.user_id)
        lines.append(t(user.language if user else "vi", "zalobot.hint_free_text"))
    row.data = {**(row.data or {}), KEY: {**saved, "choices": choices}}
    return replace(reply, text="\n".join([reply.text, "", *lines]))


def _step_of(channel: str, dedupe_key: str) -> str | None:
    """The delivery a step's reply answers (the pipeline keys replies ``reply:<channel>:<update>:<n>``);
    None for a notification."""
    prefix = f"reply:{channel}:"
    return dedupe_key[len(prefix):].rsplit(":", 1)[0] if dedupe_key.startswith(prefix) else None
