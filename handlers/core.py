"""What a flow step gets to work with, and the registry of flows.

A flow is an object with two coroutines:
  ``prompt(ctx)``  shows the current step (its question and buttons) again;
  ``handle(ctx)``  takes the citizen's answer at the current step;
and may have a third, ``prepare(contexts)``, which the group commit calls with every step of a
group that starts in this flow before any of them runs, to read with one statement what several
of them will need (a read only: a step may still go another way, and nothing is written).
Flows answer through ``ctx.say`` and move with ``ctx.goto``; they never see platform objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from bot.domain.dialog import Button, Conversation, Incoming, Reply
from bot.settings import Settings
from bot.texts import has, t
from storage.models import User


class Flow(Protocol):
    name: str

    async def prompt(self, ctx: "FlowContext") -> None: ...

    async def handle(self, ctx: "FlowContext") -> None: ...


FLOWS: dict[str, Flow] = {}


def register(flow: Flow) -> Flow:
    FLOWS[flow.name] = flow
    return flow


@dataclass
class FlowContext:
    uow: object
    user: User
    incoming: Incoming
    conversation: Conversation
    settings: Settings
    replies: list[Reply] = field(default_factory=list)

    @property
    def lang(self) -> str:
        return self.user.language or self.settings.default_language.value

    def text(self, key: str, **values) -> str:
        """The catalogue's text; a channel may word it its own way (``key@channel``), e.g. the Zalo Bot,
        which has no buttons and no location sharing."""
        own = f"{key}@{self.incoming.channel}"
        return t(self.lang, own if has(own) else key, **values)

    def button(self, key: str, value: str, **values) -> Button:
        return Button(self.text(key, **values), value)

    def say(self, key: str, *, buttons=(), **values) -> None:
        self.send(self.text(key, **values), buttons=buttons)

    def send(self, text: str, *, buttons=(), photos=(), phone_request: str | None = None) -> None:
        rows = tuple(tuple(row) if isinstance(row, (list, tuple)) else (row,) for row in buttons)
        self.replies.append(Reply(text=text, buttons=rows, photos=tuple(photos), phone_request=phone_request))

    def back_to_menu_row(self) -> tuple[Button, ...]:
        return (self.button("menu.back", "g:menu"),)

    async def goto(self, flow: str, step: str, **data) -> None:
        """Move to a step of a flow and show it. ``data`` replaces the flow's scratch data; keys
        starting with "_" belong to the chat, not the flow (a draft, the keyboards shown), and stay."""
        if flow != self.conversation.flow:
            leaving = getattr(FLOWS.get(self.conversation.flow), "leaving", None)
            if leaving is not None:  # a flow may keep what the citizen wrote (a draft) before it goes
                leaving(self)
            self.conversation.data = {k: v for k, v in self.conversation.data.items() if k.startswith("_")}
        self.conversation.flow = flow
        self.conversation.step = step
        self.conversation.data.update(data)
        await FLOWS[flow].prompt(self)
