"""Dân bàn — consultations of the people (Luật Thực hiện dân chủ ở cơ sở 2022): read, vote once
(a vote may be changed until the consultation closes), comment; results are shown after closing.

The official result counts verified residents only, one vote a person (Điều 29 khoản 1: those who
take part are the citizens living in the commune); any other vote is kept in a separately shown
unverified tally (bot/consultations.py). The detail says who is counted and how this person's vote
counts; «verify» asks for the person's own phone number where the channel can share it, and says
how else to be verified where it cannot.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from bot.consultations import cast_vote, is_open, results, results_text, standing_of, vote_of
from bot.domain.dialog import Button
from bot.residents import verify_by_platform
from handlers.core import FLOWS, FlowContext, register
from storage.models import Consultation, utcnow

MAX_COMMENT = 1000


class ConsultationsFlow:
    name = "consultations"

    async def prompt(self, ctx: FlowContext) -> None:
        step = ctx.conversation.step
        if step == "detail":
            await self._detail(ctx)
        elif step == "comment":
            ctx.say("consult.ask_comment", buttons=[[ctx.button("submit.skip", "consult:detail")]])
        elif step == "verify":
            await self._ask_to_verify(ctx)
        else:
            await self._list(ctx)

    async def handle(self, ctx: FlowContext) -> None:
        choice, data = ctx.incoming.button or "", ctx.conversation.data
        if choice.startswith("consult:") and choice[8:].isdigit():
            await ctx.goto("consultations", "detail", consultation_id=int(choice[8:]))
        elif choice.startswith("vote:"):
            await self._vote(ctx, int(choice[5:]))
        elif choice == "consult:comment":
            await ctx.goto("consultations", "comment", consultation_id=data["consultation_id"])
        elif choice == "consult:verify":
            await ctx.goto("consultations", "verify", consultation_id=data["consultation_id"])
        elif choice == "consult:detail":
            await ctx.goto("consultations", "detail", consultation_id=data["consultation_id"])
        elif choice == "consult:list":
            await ctx.goto("consultations", "list")
        elif ctx.conversation.step == "comment" and ctx.incoming.text:
            await self._comment(ctx, ctx.incoming.text.strip())
        elif ctx.conversation.step == "verify" and ctx.incoming.text:
            ctx.say("consult.verify_typed")  # a typed number could be anybody's
            await self.prompt(ctx)
        else:
            await ctx.goto("menu", "main")

    async def take_phone(self, ctx: FlowContext) -> None:
        """A phone number the platform vouches is the sender's own (``Incoming.verified_phone``), at
        whatever step it arrives. It is taken only while the person is in the consultations, where
        they were asked for it and told what it is for; anywhere else nothing is kept."""
        if ctx.conversation.flow != self.name:
            ctx.say("resident.not_asked")
            await FLOWS[ctx.conversation.flow].prompt(ctx)
            return
        if await verify_by_platform(ctx.uow, ctx.user, ctx.incoming.channel, ctx.incoming.verified_phone):
            ctx.say("resident.verified")
        else:
            ctx.say("resident.bad_phone")
        consultation_id = ctx.conversation.data.get("consultation_id")
        if consultation_id is None:
            await ctx.goto("consultations", "list")
        else:
            await ctx.goto("consultations", "detail", consultation_id=consultation_id)

    async def _consultation(self, ctx: FlowContext) -> Consultation | None:
        consultation = await ctx.uow.session.get(Consultation, ctx.conversation.data.get("consultation_id", 0))
        return consultation if consultation and consultation.commune_code == ctx.user.commune_code else None

    async def _list(self, ctx: FlowContext) -> None:
        rows = (await ctx.uow.session.execute(
            select(Consultation).where(Consultation.commune_code == ctx.user.commune_code,
                                       or_(Consultation.status == "open", Consultation.status == "closed"))
            .order_by(Consultation.closes_at.desc()).limit(10))).scalars().all()
        if not rows:
            ctx.say("consult.none", buttons=[ctx.back_to_menu_row()])
            return
        now = utcnow()
        buttons = [[Button(("🗳️ " if is_open(c, now) else "📊 ") + c.title[:60], f"consult:{c.id}")] for c in rows]
        ctx.say("consult.pick", buttons=[*buttons, ctx.back_to_menu_row()])

    async def _detail(self, ctx: FlowContext) -> None:
        consultation = await self._consultation(ctx)
        if consultation is None:
            await ctx.goto("consultations", "list")
            return
        zone, now = ctx.settings.zone, utcnow()
        text = ctx.text("consult.detail", title=consultation.title, body=consultation.body[:2500],
                        closes=f"{consultation.closes_at.astimezone(zone):%d/%m/%Y %H:%M}")
        vote = await vote_of(ctx.uow.session, consultation.id, ctx.user.id)
        rows = []
        if is_open(consultation, now):
            counted = await standing_of(ctx.uow.session, ctx.user, consultation.commune_code)
            text += "\n\n" + ctx.text("consult.who_votes") + "\n" + ctx.text(
                "consult.you_verified" if counted.verified else "consult.you_unverified")
            if vote is not None:
                text += "\n\n" + ctx.text("consult.your_vote", option=vote.option)
            rows += [[Button(("✅ " if vote and vote.option == option else "") + option, f"vote:{index}")]
                     for index, option in enumerate(consultation.options)]
            if vote is not None:
                rows.append([ctx.button("consult.comment", "consult:comment")])
            if not counted.verified:
                rows.append([ctx.button("consult.verify_button", "consult:verify")])
        else:
            if consultation.closed_at is not None and not consultation.close_reason:
                # When it really closed (an early end says so with its reason in the results).
                text += "\n" + ctx.text("conv.consult.closed_at",
                                        closed=f"{consultation.closed_at.astimezone(zone):%d/%m/%Y %H:%M}")
            text += "\n\n" + results_text(ctx.lang, consultation, await results(ctx.uow.session, consultation),
                                          zone=zone)
        rows += [[ctx.button("consult.back", "consult:list")], ctx.back_to_menu_row()]
        ctx.send(text, buttons=rows)

    async def _ask_to_verify(self, ctx: FlowContext) -> None:
        consultation = await self._consultation(ctx)
        if consultation is None:
            await ctx.goto("consultations", "list")
            return
        if (await standing_of(ctx.uow.session, ctx.user, consultation.commune_code)).verified:
            ctx.say("consult.already_verified")
            await ctx.goto("consultations", "detail", consultation_id=consultation.id)
            return
        # Two messages: on Telegram the phone request is a keyboard of its own, which cannot sit
        # under the same message as the buttons.
        ctx.send(ctx.text("consult.verify"), phone_request=ctx.text("consult.share_phone"))
        ctx.say("consult.verify_back", buttons=[[ctx.button("consult.back_to_detail", "consult:detail")]])

    async def _vote(self, ctx: FlowContext, index: int) -> None:
        consultation = await self._consultation(ctx)
        if consultation is None or not is_open(consultation, utcnow()) or not 0 <= index < len(consultation.options):
            ctx.say("consult.closed")
            await self.prompt(ctx)
            return
        option = consultation.options[index]
        changed = await cast_vote(ctx.uow, ctx.user, consultation, option)
        ctx.say("consult.changed" if changed else "consult.voted", option=option)
        await self._detail(ctx)

    async def _comment(self, ctx: FlowContext, text: str) -> None:
        if len(text) > MAX_COMMENT:
            ctx.say("submit.field_too_long", limit=MAX_COMMENT)
            return
        consultation = await self._consultation(ctx)
        vote = await vote_of(ctx.uow.session, consultation.id, ctx.user.id) if consultation else None
        if vote is None or not is_open(consultation, utcnow()):
            ctx.say("consult.closed")
        else:
            vote.comment = text
            ctx.say("consult.commented")
        await ctx.goto("consultations", "detail", consultation_id=ctx.conversation.data["consultation_id"])


register(ConsultationsFlow())
