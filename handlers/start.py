"""/start: greet, choose a language, choose the commune or ward, then the main menu.

A returning citizen who already chose both is welcomed back straight to the menu. ``/start <code>``
from a public page's "chat about this" link (bot/domain/deeplinks.py) sets the commune it names and
opens what it names (a project, a consultation, the schedule…), after the language for a newcomer.
"""

from __future__ import annotations

from bot.domain import deeplinks
from bot.domain.communes import commune_by_code, commune_label, search_communes
from bot.domain.dialog import Button
from bot.organisation import handling
from bot.texts import LANGUAGES
from handlers.core import FLOWS, FlowContext, register
from handlers.submit import DRAFT

# Where a link's place opens: (flow, step, the id's name in the flow's data).
PLACES = {
    "schedule": ("schedule", "list", None),
    "disclosures": ("publications", "disclosures", None),
    "projects": ("publications", "projects", None),
    "project": ("publications", "project", "project_id"),
    "consultations": ("consultations", "list", None),
    "consultation": ("consultations", "detail", "consultation_id"),
    "statistics": ("statistics", "show", None),
}


class StartFlow:
    name = "start"

    async def begin(self, ctx: FlowContext) -> None:
        target = None
        if ctx.incoming.command == "start" and ctx.incoming.command_argument:
            target = deeplinks.decode(ctx.incoming.command_argument)
            if target is None or commune_by_code(target.commune_code) is None:
                ctx.say("start.link_unknown")
                target = None
        if ctx.user.commune_code and commune_by_code(ctx.user.commune_code):
            if target is not None:
                await self.follow(ctx, target)
                return
            ctx.say("start.welcome_back", commune=commune_label(ctx.user.commune_code))
            await ctx.goto("menu", "main")
        elif target is not None:  # a newcomer: the language first, then where the link leads
            await ctx.goto("start", "language", link=ctx.incoming.command_argument.strip())
        else:
            await ctx.goto("start", "language")

    async def follow(self, ctx: FlowContext, target: deeplinks.Target) -> None:
        """Open what a link names, in the commune it names (the citizen is told when that changes their
        commune; the settings change it back)."""
        if ctx.user.commune_code != target.commune_code:
            moved = ctx.user.commune_code is not None
            ctx.user.commune_code = target.commune_code
            ctx.say("start.link_commune" if moved else "start.commune_set", commune=commune_label(target.commune_code))
            await say_who_handles(ctx, target.commune_code)
        if target.place == "submit" and (DRAFT in ctx.conversation.data or (
                ctx.conversation.flow == "submit" and FLOWS["submit"].worth_keeping(ctx))):
            await ctx.goto("menu", "draft_or_new")  # a half-written one is kept (leaving) and offered back
        elif target.place == "submit":
            await ctx.goto("submit", "kind")
        elif target.place in PLACES:
            flow, step, key = PLACES[target.place]
            await ctx.goto(flow, step, **({key: target.record_id} if key else {}))
        else:
            await ctx.goto("menu", "main")

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
        link = deeplinks.decode(ctx.conversation.data.get("link") or "")
        if link is not None and commune_by_code(link.commune_code) is not None:
            await self.follow(ctx, link)
        elif ctx.conversation.data.get("only_language") and ctx.user.commune_code:
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
