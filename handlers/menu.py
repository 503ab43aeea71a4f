"""The main menu, help, and the settings submenu (language, commune)."""

from __future__ import annotations

from bot.domain.roles import STAFF_ROLES
from handlers.core import FlowContext, register

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
        ctx.say("menu.title", buttons=[[ctx.button(key, value)] for key, value in entries])

    async def handle(self, ctx: FlowContext) -> None:
        choice = ctx.incoming.button
        if choice == "menu:submit":
            await ctx.goto("submit", "kind")
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
        else:
            ctx.say("error.use_buttons")
            await self.prompt(ctx)

    async def show_help(self, ctx: FlowContext) -> None:
        ctx.say("help.text")


register(MenuFlow())
