"""Giám sát — what an oversight board, the commune's chairman and the province's readers see beside the
inbox: deadlines kept or missed, projects with progress and budget, and the boards' observations.

A board member (Ban Thanh tra nhân dân, Ban Giám sát đầu tư của cộng đồng) reads and records an
observation (kiến nghị), about the commune or about an item it opened; the commune's chairman or admin
answers it by its deadline (15 days, Luật Thực hiện dân chủ ở cơ sở 2022, Điều 40 khoản 1 điểm c,
Điều 45 khoản 2 điểm c). Nothing here acts on an item; every screen asks the scope policy through the
services in bot/oversight.py, which refuse what the buttons would not have offered.

    home ─┬─ figures        deadlines kept / missed, per commune
          ├─ projects       progress, budget, dates
          ├─ observe        text → recorded, with the commune's deadline
          └─ observations ── observation ── answer (the commune)
"""

from __future__ import annotations

from datetime import timedelta

from bot import policy
from bot.domain.communes import commune_label
from bot.domain.dialog import Button
from bot.domain.provinces import province_name
from bot.officers import NotAllowed, actor_for
from bot.oversight import (
    answer_observation,
    board_of,
    deadline_records,
    observation,
    observations,
    projects_in_view,
    record_observation,
)
from bot.policy import Actor, Level, Permission
from handlers.core import FlowContext, register
from storage.models import utcnow

MIN_TEXT = 10
FIGURES_DAYS = 365  # the figures cover the items received in the last year
STEPS = ("home", "figures", "projects", "observe", "observations", "observation", "answer")


def oversees(actor: Actor) -> bool:
    """Whether the inbox offers this screen: to the boards, to whoever answers their observations and
    to the province's readers."""
    return (actor.holds(Permission.observe) or actor.holds(Permission.answer_observation)
            or (actor.grants.level is Level.province and actor.holds(Permission.figures)))


class OversightFlow:
    name = "oversight"

    async def enter(self, ctx: FlowContext, choice: str) -> None:
        """From the inbox («Giám sát») or an item's screen («Kiến nghị về hồ sơ này»)."""
        if choice.startswith("ovobs:") and choice[6:].isdigit():
            await ctx.goto("oversight", "observe", item_id=int(choice[6:]))
        else:
            await ctx.goto("oversight", "home")

    async def prompt(self, ctx: FlowContext) -> None:
        actor = await actor_for(ctx.uow, ctx.user)
        if not oversees(actor):
            ctx.say("officer.not_allowed")
            await ctx.goto("officer", "inbox", view="open")
            return
        step = ctx.conversation.step
        try:
            await getattr(self, f"_{step if step in STEPS else 'home'}")(ctx, actor)
        except NotAllowed:
            ctx.say("officer.not_allowed")
            await ctx.goto("oversight", "home")

    async def handle(self, ctx: FlowContext) -> None:
        choice, step, data = ctx.incoming.button or "", ctx.conversation.step, ctx.conversation.data
        try:
            if choice == "oinbox":
                await ctx.goto("officer", "inbox", view="open")
            elif choice == "ovhome":
                await ctx.goto("oversight", "home")
            elif choice in ("ovfig", "ovproj", "ovnew", "ovlist"):
                await ctx.goto("oversight", {"ovfig": "figures", "ovproj": "projects", "ovnew": "observe",
                                             "ovlist": "observations"}[choice], item_id=None)
            elif choice.startswith("ovo:") and choice[4:].isdigit():
                await ctx.goto("oversight", "observation", observation_id=int(choice[4:]))
            elif choice.startswith("ovans:") and choice[6:].isdigit():
                await ctx.goto("oversight", "answer", observation_id=int(choice[6:]))
            elif step == "observe" and ctx.incoming.text:
                await self._record(ctx, ctx.incoming.text.strip()[:3000], data.get("item_id"))
            elif step == "answer" and ctx.incoming.text:
                await self._answer_text(ctx, ctx.incoming.text.strip()[:3000], data["observation_id"])
            else:
                await self.prompt(ctx)
        except NotAllowed:
            ctx.say("officer.not_allowed")
            await ctx.goto("oversight", "home")

    # -- screens -------------------------------------------------------------------------------------
    async def _home(self, ctx: FlowContext, actor: Actor) -> None:
        board = await board_of(ctx.uow, actor)
        if board is not None:
            where = board.name
        elif actor.grants.level is Level.province:
            where = province_name(actor.province_code)
        else:
            where = commune_label(actor.commune_code) if actor.commune_code else "—"
        rows = []
        if actor.holds(Permission.figures):
            rows.append([ctx.button("oversight.figures", "ovfig")])
        if board is not None or actor.grants.level is Level.province:
            rows.append([ctx.button("oversight.projects", "ovproj")])
        if policy.may_observe(actor, actor.commune_code, actor.project_id):
            rows.append([ctx.button("oversight.observe", "ovnew")])
        rows.append([ctx.button("oversight.observations", "ovlist")])
        rows.append([ctx.button("officer.to_inbox", "oinbox")])
        key = "oversight.home" if policy.is_read_only(actor) else "oversight.home_commune"
        ctx.say(key, where=where, role=ctx.text(f"role.{actor.role}"), buttons=rows)

    async def _figures(self, ctx: FlowContext, actor: Actor) -> None:
        if not actor.holds(Permission.figures):
            raise NotAllowed(None)
        zone = ctx.settings.zone
        now = utcnow()
        records = await deadline_records(ctx.uow, ctx.user, now.astimezone(zone).date(),
                                         now - timedelta(days=FIGURES_DAYS), zone)
        lines = [ctx.text("oversight.figures_title", days=FIGURES_DAYS)]
        lines += [ctx.text("oversight.figures_line", commune=commune_label(r.commune_code), kept=r.kept,
                           missed=r.missed, overdue=r.overdue, running=r.running) for r in records[:40]]
        if not records:
            lines.append(ctx.text("oversight.figures_none"))
        ctx.send("\n".join(lines), buttons=[[ctx.button("oversight.back", "ovhome")]])

    async def _projects(self, ctx: FlowContext, actor: Actor) -> None:
        projects = await projects_in_view(ctx.uow, ctx.user)
        lines = [ctx.text("oversight.projects_title")]
        for project in projects[:30]:
            budget = (f"{project.budget_vnd:,}".replace(",", ".") + " đ") if project.budget_vnd is not None else "—"
            lines.append(ctx.text("oversight.project_line", name=project.name, commune=commune_label(project.commune_code),
                                  status=ctx.text(f"projects.status.{project.status}"),
                                  progress=project.progress_percent, budget=budget,
                                  start=project.starts_on.strftime("%d/%m/%Y") if project.starts_on else "—",
                                  end=project.ends_on.strftime("%d/%m/%Y") if project.ends_on else "—"))
        if not projects:
            lines.append(ctx.text("oversight.projects_none"))
        ctx.send("\n".join(lines), buttons=[[ctx.button("oversight.back", "ovhome")]])

    async def _observe(self, ctx: FlowContext, actor: Actor) -> None:
        if not policy.may_observe(actor, actor.commune_code, actor.project_id):
            raise NotAllowed(None)
        item_id = ctx.conversation.data.get("item_id")
        key = "oversight.ask_observation_item" if item_id else "oversight.ask_observation"
        ctx.say(key, minimum=MIN_TEXT, buttons=[[ctx.button("oversight.back", "ovhome")]])

    async def _observations(self, ctx: FlowContext, actor: Actor) -> None:
        found = await observations(ctx.uow, ctx.user)
        today = utcnow().astimezone(ctx.settings.zone).date()
        rows = [[Button(("✅ " if o.answered_at else "⏰ " if o.due_on < today else "⏳ ")
                        + f"{o.due_on:%d/%m} — {o.text[:40]}", f"ovo:{o.id}")] for o in found]
        rows.append([ctx.button("oversight.back", "ovhome")])
        ctx.say("oversight.observations_title" if found else "oversight.observations_none", count=len(found),
                buttons=rows)

    async def _observation(self, ctx: FlowContext, actor: Actor) -> None:
        found = await observation(ctx.uow, ctx.user, ctx.conversation.data["observation_id"])
        zone = ctx.settings.zone
        text = ctx.text("oversight.observation", text=found.text, commune=commune_label(found.commune_code),
                        received=found.received_at.astimezone(zone).strftime("%d/%m/%Y"),
                        due=found.due_on.strftime("%d/%m/%Y"), citation=found.citation)
        if not found.statutory:
            text += "\n" + ctx.text("oversight.own_target")
        if found.answered_at is not None:
            text += "\n\n" + ctx.text("oversight.answered", date=found.answered_at.astimezone(zone).strftime("%d/%m/%Y"),
                                      answer=found.answer)
        rows = []
        if found.answered_at is None and policy.may_answer_observation(actor, found.commune_code):
            rows.append([ctx.button("oversight.answer", f"ovans:{found.id}")])
        rows.append([ctx.button("oversight.observations", "ovlist")])
        ctx.send(text, buttons=rows)

    async def _answer(self, ctx: FlowContext, actor: Actor) -> None:
        found = await observation(ctx.uow, ctx.user, ctx.conversation.data["observation_id"])
        if found.answered_at is not None or not policy.may_answer_observation(actor, found.commune_code):
            raise NotAllowed(found.id)
        ctx.say("oversight.ask_answer", text=found.text[:500], due=found.due_on.strftime("%d/%m/%Y"),
                buttons=[[ctx.button("oversight.observations", "ovlist")]])

    # -- writes --------------------------------------------------------------------------------------
    async def _record(self, ctx: FlowContext, text: str, item_id: int | None) -> None:
        if len(text) < MIN_TEXT:
            ctx.say("submit.description_short", minimum=MIN_TEXT)
            return
        recorded = await record_observation(ctx.uow, ctx.user, text, ctx.settings.zone, item_id=item_id)
        ctx.say("oversight.recorded", date=recorded.due_on.strftime("%d/%m/%Y"), citation=recorded.citation)
        await ctx.goto("oversight", "home")

    async def _answer_text(self, ctx: FlowContext, text: str, observation_id: int) -> None:
        await answer_observation(ctx.uow, ctx.user, observation_id, text)
        ctx.say("oversight.answer_sent")
        await ctx.goto("oversight", "observations")


register(OversightFlow())
