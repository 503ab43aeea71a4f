"""Dân biết — what the commune has disclosed (by category, newest first, paged) and its projects
(status, progress, budget, dates, dated timeline; follow a project to be told of updates)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from bot.domain.communes import commune_label
from bot.domain.dialog import Button
from handlers.core import FlowContext, register
from storage.models import Subscription

PAGE = 5


def _money(ctx: FlowContext, amount: int | None) -> str:
    if amount is None:
        return ctx.text("unknown")
    grouped = f"{amount:,}".replace(",", "." if ctx.lang == "vi" else ",")
    return ctx.text("money.vnd", amount=grouped)


def _date(value) -> str:
    return value.strftime("%d/%m/%Y") if value else "…"


def project_topic(project_id: int) -> str:
    return f"project:{project_id}"


class PublicationsFlow:
    name = "publications"

    async def prompt(self, ctx: FlowContext) -> None:
        show = {"disclosures": self._categories, "disclosure_list": self._disclosures,
                "projects": self._projects, "project": self._project}
        await show.get(ctx.conversation.step, self._categories)(ctx, ctx.user.commune_code)

    async def handle(self, ctx: FlowContext) -> None:
        choice, data = ctx.incoming.button or "", ctx.conversation.data
        if choice.startswith("dcat:"):
            await ctx.goto("publications", "disclosure_list", category=choice[5:], page=0)
        elif choice == "dmore":
            await ctx.goto("publications", "disclosure_list", category=data.get("category", "*"),
                           page=data.get("page", 0) + 1)
        elif choice == "dcats":
            await ctx.goto("publications", "disclosures")
        elif choice.startswith("project:"):
            await ctx.goto("publications", "project", project_id=int(choice[8:]))
        elif choice == "projects":
            await ctx.goto("publications", "projects")
        elif choice == "follow":
            await self._toggle_follow(ctx, data["project_id"])
            await self.prompt(ctx)
        else:
            await ctx.goto("menu", "main")

    # -- disclosures --------------------------------------------------------------------------------
    async def _categories(self, ctx: FlowContext, commune: int) -> None:
        disclosures = await ctx.uow.publications.disclosures(commune, limit=500)
        if not disclosures:
            ctx.say("disclosures.none", buttons=[ctx.back_to_menu_row()])
            return
        counts = Counter(d.category for d in disclosures)
        rows = [[ctx.button("disclosures.all", "dcat:*", count=len(disclosures))]]
        rows += [[Button(f"{ctx.text(f'disclosure.category.{c}')} ({n})", f"dcat:{c}")] for c, n in counts.most_common()]
        rows.append(ctx.back_to_menu_row())
        ctx.say("disclosures.pick", commune=commune_label(commune), buttons=rows)

    async def _disclosures(self, ctx: FlowContext, commune: int) -> None:
        data = ctx.conversation.data
        category, page = data.get("category", "*"), data.get("page", 0)
        disclosures = [d for d in await ctx.uow.publications.disclosures(commune, limit=500)
                       if category == "*" or d.category == category]
        shown = disclosures[page * PAGE:(page + 1) * PAGE]
        lines = [ctx.text("disclosures.title", commune=commune_label(commune))]
        for disclosure in shown:
            until = ctx.text("disclosures.until", date=_date(disclosure.board_until)) if disclosure.board_until else ""
            entry = ctx.text("disclosures.entry", category=ctx.text(f"disclosure.category.{disclosure.category}"),
                             title=disclosure.title, date=_date(disclosure.published_at.astimezone(ctx.settings.zone)),
                             until=until, body=disclosure.body[:500])
            if disclosure.url:
                entry += ctx.text("disclosures.link", url=disclosure.url)
            lines.append(entry)
        if not shown:
            lines.append(ctx.text("disclosures.none"))
        rows = []
        if len(disclosures) > (page + 1) * PAGE:
            rows.append([ctx.button("track.more", "dmore")])
        rows += [[ctx.button("disclosures.categories", "dcats")], ctx.back_to_menu_row()]
        ctx.send("\n\n".join(lines), buttons=rows)

    # -- projects -----------------------------------------------------------------------------------
    async def _projects(self, ctx: FlowContext, commune: int) -> None:
        projects = await ctx.uow.publications.projects(commune)
        if not projects:
            ctx.say("projects.none", buttons=[ctx.back_to_menu_row()])
            return
        rows = [[Button(f"{p.name} — {p.progress_percent}%", f"project:{p.id}")] for p in projects[:20]]
        rows.append(ctx.back_to_menu_row())
        ctx.say("projects.title", commune=commune_label(commune), buttons=rows)

    async def _project(self, ctx: FlowContext, commune: int) -> None:
        project = await ctx.uow.publications.project(ctx.conversation.data.get("project_id", 0))
        if project is None or project.commune_code != commune:
            await ctx.goto("publications", "projects")
            return
        text = ctx.text("projects.entry", name=project.name, status=ctx.text(f"projects.status.{project.status}"),
                        progress=project.progress_percent, budget=_money(ctx, project.budget_vnd),
                        start=_date(project.starts_on), end=_date(project.ends_on))
        if project.description:
            text += "\n\n" + project.description
        updates = await ctx.uow.publications.project_updates(project.id)
        if updates:
            text += "\n\n" + ctx.text("projects.timeline")
        for update in updates[-15:]:
            text += ctx.text("projects.update", date=_date(update.on), note=update.note, progress=update.progress_percent)
        following = await self._follow(ctx, project.id) is not None
        ctx.send(text, buttons=[[ctx.button("projects.unfollow" if following else "projects.follow", "follow")],
                                       [ctx.button("projects.back", "projects")], ctx.back_to_menu_row()])

    async def _follow(self, ctx: FlowContext, project_id: int) -> Subscription | None:
        return (await ctx.uow.session.execute(select(Subscription).where(
            Subscription.user_id == ctx.user.id, Subscription.topic == project_topic(project_id),
            Subscription.commune_code == ctx.user.commune_code))).scalar_one_or_none()

    async def _toggle_follow(self, ctx: FlowContext, project_id: int) -> None:
        existing = await self._follow(ctx, project_id)
        if existing is None:
            ctx.uow.session.add(Subscription(user_id=ctx.user.id, topic=project_topic(project_id),
                                             commune_code=ctx.user.commune_code))
            ctx.say("projects.followed")
        else:
            await ctx.uow.session.delete(existing)
            ctx.say("projects.unfollowed")


register(PublicationsFlow())
