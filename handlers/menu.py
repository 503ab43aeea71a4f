"""The main menu, help, and the settings submenu (language, commune).

Text typed at the menu is not thrown away: a tracking code of the citizen's own item opens it, and
a sentence is offered as the start of a feedback. A half-written submission kept as a draft
(handlers/submit.py) is offered back at the top of the menu.
"""

from __future__ import annotations

from bot.domain.roles import STAFF_ROLES
from bot.domain.tracking import normalize_tracking_code
from handlers.core import FLOWS, FlowContext, register
from handlers.submit import DRAFT, MIN_DESCRIPTION, draft_label

MAIN_ENTRIES = (
    ("menu.submit", "menu:submit"),
    ("menu.track", "menu:track"),
    ("menu.schedule", "menu:schedule"),
    ("menu.disclosures", "menu:disclosures"),
    ("menu.projects", "menu:projects"),
    ("menu.consultations", "menu:consultations"),
    ("menu.statistics", "menu:statistics"),
    ("menu.settings", "menu:settings"),
    ("menu.help", "g:help"),
)


class MenuFlow:
    name = "menu"

    async def prompt(self, ctx: FlowContext) -> None:
        if ctx.conversation.step == "draft_or_new":
            draft = ctx.conversation.data[DRAFT]
            ctx.say("conv.draft_or_new", **draft_label(ctx, draft["data"]), buttons=[
                [ctx.button("conv.draft_continue", "menu:draft")], [ctx.button("conv.draft_new", "menu:submit_new")],
                ctx.back_to_menu_row()])
            return
        if ctx.conversation.step == "settings":
            ctx.say("settings.title", buttons=[
                [ctx.button("settings.language", "settings:language")],
                [ctx.button("settings.commune", "settings:commune")],
                ctx.back_to_menu_row(),
            ])
            return
        if not ctx.user.commune_code:
            ctx.say("error.commune_needed")
            await ctx.goto("start", "commune")
            return
        entries = list(MAIN_ENTRIES)
        if ctx.user.role in STAFF_ROLES:
            entries.insert(0, ("menu.inbox", "menu:inbox"))
        rows = [[ctx.button(key, value)] for key, value in entries]
        if (draft := ctx.conversation.data.get(DRAFT)) is not None:
            rows.insert(0, [ctx.button("conv.menu_draft", "menu:draft", kind=draft_label(ctx, draft["data"])["kind"])])
        ctx.say("menu.title", buttons=rows)

    async def go_home(self, ctx: FlowContext) -> None:
        """«Menu» or /menu: the main menu, unless a half-written submission would be left behind; then
        the citizen is asked first (handlers/submit.py keeps it as a draft, or discards it)."""
        submit = FLOWS["submit"]
        if ctx.conversation.flow == submit.name and ctx.conversation.step != "leave" and submit.worth_keeping(ctx):
            await ctx.goto("submit", "leave", return_to=ctx.conversation.step)
        else:
            await ctx.goto("menu", "main")

    async def handle(self, ctx: FlowContext) -> None:
        choice, data = ctx.incoming.button, ctx.conversation.data
        if choice == "menu:submit" and DRAFT in data:
            await ctx.goto("menu", "draft_or_new")
        elif choice in ("menu:submit", "menu:submit_new"):
            data.pop(DRAFT, None)
            await ctx.goto("submit", "kind")
        elif choice == "menu:draft" and DRAFT in data:
            draft = data.pop(DRAFT)
            ctx.say("conv.draft_resumed")
            await ctx.goto("submit", draft["step"], **draft["data"])
        elif choice == "menu:typed" and data.get("typed"):
            ctx.say("conv.typed_kept")
            await ctx.goto("submit", "category", kind="feedback", description=data.pop("typed"))
        elif choice == "menu:track":
            await ctx.goto("track", "list", page=0)
        elif choice == "menu:schedule":
            await ctx.goto("schedule", "list")
        elif choice == "menu:disclosures":
            await ctx.goto("publications", "disclosures")
        elif choice == "menu:projects":
            await ctx.goto("publications", "projects")
        elif choice == "menu:consultations":
            await ctx.goto("consultations", "list")
        elif choice == "menu:statistics":
            await ctx.goto("statistics", "show")
        elif choice == "menu:inbox":
            await ctx.goto("officer", "inbox", view="open")
        elif choice == "menu:settings":
            await ctx.goto("menu", "settings")
        elif choice == "settings:language":
            await ctx.goto("start", "language", only_language=True)
        elif choice == "settings:commune":
            await ctx.goto("start", "commune")
        elif ctx.incoming.text and not ctx.incoming.button and not ctx.incoming.photos:
            await self._typed(ctx, ctx.incoming.text.strip())
        else:
            ctx.say("error.use_buttons")
            await self.prompt(ctx)

    async def _typed(self, ctx: FlowContext, text: str) -> None:
        """Text typed at the menu: the citizen's own tracking code opens that item; a sentence may be
        the start of a feedback, which they are offered; anything shorter gets a pointer."""
        code = normalize_tracking_code(text)
        item = await ctx.uow.items.by_tracking_code(code) if code else None
        if item is not None and item.citizen_id == ctx.user.id:
            await ctx.goto("track", "detail", item_id=item.id)
            return
        if ctx.conversation.step != "main":
            await ctx.goto("menu", "main")
            return
        if len(text) >= MIN_DESCRIPTION:
            ctx.conversation.data["typed"] = text[:4000]
            excerpt = text if len(text) <= 300 else text[:300] + "…"
            ctx.say("conv.menu_typed", text=excerpt, buttons=[[ctx.button("conv.use_typed", "menu:typed")]])
        else:
            ctx.say("conv.menu_typed_short", minimum=MIN_DESCRIPTION)
        await self.prompt(ctx)

    async def show_help(self, ctx: FlowContext) -> None:
        ctx.say("help.text")


register(MenuFlow())
