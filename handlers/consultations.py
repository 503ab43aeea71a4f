"""Dân bàn — consultations of the people (Luật Thực hiện dân chủ ở cơ sở 2022): read, vote once
(a vote may be changed until the consultation closes), comment; results are shown after closing."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import or_, select

from bot.domain.dialog import Button
from handlers.core import FlowContext, register
from storage.models import Consultation, ConsultationVote, utcnow

MAX_COMMENT = 1000


def is_open(consultation: Consultation, now: datetime) -> bool:
    return consultation.status == "open" and consultation.opens_at <= now < consultation.closes_at


class ConsultationsFlow:
    name = "consultations"

    async def prompt(self, ctx: FlowContext) -> None:
        step = ctx.conversation.step
        if step == "detail":
            await self._detail(ctx)
        elif step == "comment":
            ctx.say("consult.ask_comment", buttons=[[ctx.button("submit.skip", "consult:detail")]])
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
        elif choice == "consult:detail":
            await ctx.goto("consultations", "detail", consultation_id=data["consultation_id"])
        elif choice == "consult:list":
            await ctx.goto("consultations", "list")
        elif ctx.conversation.step == "comment" and ctx.incoming.text:
            await self._comment(ctx, ctx.incoming.text.strip())
        else:
            await ctx.goto("menu", "main")

    async def _consultation(self, ctx: FlowContext) -> Consultation | None:
        consultation = await ctx.uow.session.get(Consultation, ctx.conversation.data.get("consultation_id", 0))
        return consultation if consultation and consultation.commune_code == ctx.user.commune_code else None

    async def _my_vote(self, ctx: FlowContext, consultation_id: int) -> ConsultationVote | None:
        return (await ctx.uow.session.execute(select(ConsultationVote).where(
            ConsultationVote.consultation_id == consultation_id, ConsultationVote.user_id == ctx.user.id))
        ).scalar_one_or_none()

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
        vote = await self._my_vote(ctx, consultation.id)
        rows = []
        if is_open(consultation, now):
            if vote is not None:
                text += "\n\n" + ctx.text("consult.your_vote", option=vote.option)
            rows += [[Button(("✅ " if vote and vote.option == option else "") + option, f"vote:{index}")]
                     for index, option in enumerate(consultation.options)]
            if vote is not None:
                rows.append([ctx.button("consult.comment", "consult:comment")])
        else:
            text += "\n\n" + self._results(ctx, consultation, await self._votes(ctx, consultation.id))
        rows += [[ctx.button("consult.back", "consult:list")], ctx.back_to_menu_row()]
        ctx.send(text, buttons=rows)

    async def _votes(self, ctx: FlowContext, consultation_id: int) -> list[ConsultationVote]:
        return list((await ctx.uow.session.execute(
            select(ConsultationVote).where(ConsultationVote.consultation_id == consultation_id))).scalars())

    def _results(self, ctx: FlowContext, consultation: Consultation, votes: list[ConsultationVote]) -> str:
        counts = Counter(v.option for v in votes)
        total = len(votes)
        lines = [ctx.text("consult.results", total=total)]
        for option in consultation.options:
            share = round(100 * counts[option] / total) if total else 0
            lines.append(ctx.text("consult.result_line", option=option, count=counts[option], share=share))
        comments = [v.comment for v in votes if v.comment][:5]
        if comments:
            lines.append(ctx.text("consult.comments") + "\n" + "\n".join(f"“{c[:200]}”" for c in comments))
        return "\n".join(lines)

    async def _vote(self, ctx: FlowContext, index: int) -> None:
        consultation = await self._consultation(ctx)
        if consultation is None or not is_open(consultation, utcnow()) or not 0 <= index < len(consultation.options):
            ctx.say("consult.closed")
            await self.prompt(ctx)
            return
        option = consultation.options[index]
        vote = await self._my_vote(ctx, consultation.id)
        if vote is None:
            ctx.uow.session.add(ConsultationVote(consultation_id=consultation.id, user_id=ctx.user.id, option=option))
            ctx.say("consult.voted", option=option)
        else:
            vote.option, vote.voted_at = option, utcnow()
            ctx.say("consult.changed", option=option)
        await ctx.uow.session.flush()
        await self._detail(ctx)

    async def _comment(self, ctx: FlowContext, text: str) -> None:
        if len(text) > MAX_COMMENT:
            ctx.say("submit.field_too_long", limit=MAX_COMMENT)
            return
        consultation = await self._consultation(ctx)
        vote = await self._my_vote(ctx, consultation.id) if consultation else None
        if vote is None or not is_open(consultation, utcnow()):
            ctx.say("consult.closed")
        else:
            vote.comment = text
            ctx.say("consult.commented")
        await ctx.goto("consultations", "detail", consultation_id=ctx.conversation.data["consultation_id"])


register(ConsultationsFlow())
