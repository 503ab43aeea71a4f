"""/privacy — a citizen reads what is stored about them and can erase it."""

from __future__ import annotations

from bot.domain.communes import commune_label
from bot.privacy import erase_personal_data, personal_data
from bot.residents import forget_resident
from handlers.core import FlowContext, register


class PrivacyFlow:
    name = "privacy"

    async def prompt(self, ctx: FlowContext) -> None:
        if ctx.conversation.step == "confirm":
            ctx.say("privacy.confirm", buttons=[[ctx.button("privacy.erase_yes", "privacy:erase_yes")],
                                                [ctx.button("privacy.erase_no", "privacy:show")]])
            return
        data = await personal_data(ctx.uow, ctx.user)
        lines = [ctx.text("privacy.title"),
                 ctx.text("privacy.language", name=ctx.text(f"language.{data.language}")),
                 ctx.text("privacy.commune", commune=commune_label(data.commune_code) if data.commune_code
                          else ctx.text("unknown")),
                 ctx.text("privacy.channels", channels=", ".join(data.channels)),
                 ctx.text("privacy.items", count=data.items)]
        for code, name, address, phone in data.contacts:
            lines.append(ctx.text("privacy.contact", code=code, name=name or "", address=address or "",
                                  phone=phone or ""))
        if not data.contacts:
            lines.append(ctx.text("privacy.no_contact"))
        lines.append(ctx.text("privacy.subscriptions", count=data.subscriptions))
        lines.append(ctx.text("privacy.logs"))
        ctx.send("\n".join(lines), buttons=[[ctx.button("privacy.erase", "privacy:erase")],
                                                    ctx.back_to_menu_row()])

    async def handle(self, ctx: FlowContext) -> None:
        choice = ctx.incoming.button
        if choice == "privacy:erase":
            await ctx.goto("privacy", "confirm")
        elif choice == "privacy:erase_yes":
            await erase_personal_data(ctx.uow, ctx.user)
            await forget_resident(ctx.uow, ctx.user)
            ctx.say("privacy.erased")
            ctx.conversation.flow, ctx.conversation.step, ctx.conversation.data = "start", "language", {}
        elif choice == "privacy:show":
            await ctx.goto("privacy", "show")
        else:
            await self.prompt(ctx)


register(PrivacyFlow())
