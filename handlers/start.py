"""/start: greet, choose a language, choose the commune or ward, then the main menu.

A returning citizen who already chose both is welcomed back straight to the menu.
"""

from __future__ import annotations

from bot.domain.communes import commune_by_code, commune_label, search_communes
from bot.domain.dialog import Button
from bot.organisation import handling
from bot.texts import LANGUAGES
from handlers.core import FlowContext, register


class StartFlow:
    name = "start"

    async def begin(self, ctx: FlowContext) -> None:
        if ctx.user.commune_code and commune_by_code(ctx.user.commune_code):
            ctx.say("start.welcome_back", commune=commune_label(ctx.user.commune_code))
            await ctx.goto("menu", "main")
        else:
            await ctx.goto("start", "language")

    async def prompt(self, ctx: FlowContext) -> None:
        step = ctx.conversation.step
        if step == "language":
            ctx.say("start.welcome", buttons=[[ctx.button(f"language.{code}", f"lang:{code}") for code in LANGUAGES]])
        elif step == "commune":
            ctx.say("start.ask_commune")
        elif step == "commune_pick":
            options = [Button(commune_label(code), f"commune:{code}") for code in ctx.conversation.data["found"]]
            ctx.say("start.commune_results", buttons=[*([o] for o in options),
                                                      [ctx.button("start.search_again", "commune:again")]])
        else:
            await ctx.goto("start", "language")

    async def handle(self, ctx: FlowContext) -> None:
        step = ctx.conversation.step
        choice = ctx.incoming.button
        if step == "language":
            if choice and choice.startswith("lang:") and choice[5:] in LANGUAGES:
                ctx.user.language = choice[5:]
                ctx.say("language.set")
                await self._after_language(ctx)
            else:
                ctx.say("error.use_buttons")
                await self.prompt(ctx)
        elif step in ("commune", "commune_pick"):
            if choice == "commune:again":
                await ctx.goto("start", "commune")
            elif choice and choice.startswith("commune:"):
                await self._choose_commune(ctx, int(choice.split(":", 1)[1]))
            elif ctx.incoming.text:
                await self._search(ctx, ctx.incoming.text.strip())
            else:
                await self.prompt(ctx)
        else:
            await self.prompt(ctx)

    async def _after_language(self, ctx: FlowContext) -> None:
        if ctx.conversation.data.get("only_language") and ctx.user.commune_code:
            await ctx.goto("menu", "main")
        else:
            await ctx.goto("start", "commune")

    async def _search(self, ctx: FlowContext, query: str) -> None:
        if len(query) < 2:
            ctx.say("start.commune_too_short")
            return
        found = search_communes(query, limit=6)
        if not found:
            ctx.say("start.commune_none", query=query[:100])
            await ctx.goto("start", "commune")
            return
        await ctx.goto("start", "commune_pick", found=[c.code for c in found])

    async def _choose_commune(self, ctx: FlowContext, code: int) -> None:
        if commune_by_code(code) is None:
            await self.prompt(ctx)
            return
        ctx.user.commune_code = code
        ctx.say("start.commune_set", commune=commune_label(code))
        await say_who_handles(ctx, code)
        await ctx.goto("menu", "main")


async def say_who_handles(ctx: FlowContext, code: int) -> bool:
    """A commune without units of its own is not offered as one that will act: its citizens learn that a
    unit of the province takes their petitions, or, when nobody on tiepdan acts for it, where to go.
    Says nothing of a commune with its own units; False when nobody here acts for the commune."""
    found = await handling(ctx.uow, code)
    if found.unit is None:
        ctx.say("start.not_served", commune=commune_label(code),
                refer=found.refer_to or ctx.text("start.not_served_default"))
        return False
    if found.by_province:
        ctx.say("start.served_by_province", commune=commune_label(code), unit=found.unit.name)
    return True


register(StartFlow())
