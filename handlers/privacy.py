"""/privacy — a citizen reads what is stored about them and can erase it."""

from __future__ import annotations

from bot.domain.communes import commune_label
from bot.privacy import erase_personal_data, personal_data
from bot.residents import forget_resident
from bot.texts import has
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
                 ctx.text("privacy.channels", channels=", ".join(self._channel_name(ctx, c) for c in data.channels)),
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
        elif ctx.conversation.step == "confirm":
            await self.prompt(ctx)
        else:
            # Typed text here: a short pointer, not the citizen's whole data page once more.
            ctx.say("conv.privacy_typed", buttons=[[ctx.button("privacy.erase", "privacy:erase")],
                                                   ctx.back_to_menu_row()])

    @staticmethod
    def _channel_name(ctx: FlowContext, channel: str) -> str:
        """A channel as people call it ("Telegram", "the website's chat"), never its internal name."""
        key = f"conv.channel.{channel}"
        return ctx.text(key if has(key) else "conv.channel.other")


register(PrivacyFlow())
