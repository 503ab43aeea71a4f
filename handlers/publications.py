"""Dân biết — what the commune has published: reception schedule, disclosures, projects."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.domain.communes import commune_label
from bot.domain.schedule import upcoming, weekly_days
from handlers.core import FlowContext, register


def _money(ctx: FlowContext, amount: int | None) -> str:
    if amount is None:
        return ctx.text("unknown")
    grouped = f"{amount:,}".replace(",", "." if ctx.lang == "vi" else ",")
    return ctx.text("money.vnd", amount=grouped)


def _date(value) -> str:
    return value.strftime("%d/%m/%Y") if value else "…"


class PublicationsFlow:
    name = "publications"

    async def prompt(self, ctx: FlowContext) -> None:
        commune = ctx.user.commune_code
        if not commune:
            ctx.say("error.commune_needed")
            await ctx.goto("start", "commune")
            return
        show = {"schedule": self._schedule, "disclosures": self._disclosures, "projects": self._projects}
        await show.get(ctx.conversation.step, self._schedule)(ctx, commune)

    async def handle(self, ctx: FlowContext) -> None:
        # These pages are read-only; any other input brings the menu back.
        await ctx.goto("menu", "main")

    async def _schedule(self, ctx: FlowContext, commune: int) -> None:
        zone = ctx.settings.zone
        now = datetime.now(timezone.utc)
        lines = [ctx.text("schedule.title", commune=commune_label(commune))]
        entries = []
        for session in await ctx.uow.publications.reception_sessions(commune):
            for occurrence in upcoming(session.starts_at.astimezone(zone), session.ends_at.astimezone(zone),
                                       session.recurrence, now.astimezone(zone), count=1):
                entries.append((occurrence, session))
        entries.sort(key=lambda pair: pair[0].starts_at)
        for occurrence, session in entries[:10]:
            start, end = occurrence.starts_at, occurrence.ends_at
            when = f"{ctx.text(f'weekday.{start.weekday()}')} {start:%d/%m/%Y}, {start:%H:%M}–{end:%H:%M}"
            days = weekly_days(session.recurrence)
            if days:
                names = ", ".join(ctx.text(f"weekday.{d}") for d in days)
                when += ctx.text("schedule.recurring", rule=ctx.text("recurrence.weekly", days=names))
            entry = ctx.text("schedule.session", when=when, receiver=session.receiver, place=session.place)
            if session.topics:
                entry += ctx.text("schedule.topics", topics=session.topics)
            if session.online_url:
                entry += ctx.text("schedule.online", url=session.online_url)
            lines.append(entry)
        if not entries:
            lines.append(ctx.text("schedule.none"))
        ctx.send("\n\n".join(lines), buttons=[ctx.back_to_menu_row()])

    async def _disclosures(self, ctx: FlowContext, commune: int) -> None:
        lines = [ctx.text("disclosures.title", commune=commune_label(commune))]
        for disclosure in await ctx.uow.publications.disclosures(commune, limit=10):
            until = ctx.text("disclosures.until", date=_date(disclosure.board_until)) if disclosure.board_until else ""
            entry = ctx.text("disclosures.entry", category=ctx.text(f"disclosure.category.{disclosure.category}"),
                             title=disclosure.title, date=_date(disclosure.published_at.astimezone(ctx.settings.zone)),
                             until=until, body=disclosure.body[:400])
            if disclosure.url:
                entry += ctx.text("disclosures.link", url=disclosure.url)
            lines.append(entry)
        if len(lines) == 1:
            lines.append(ctx.text("disclosures.none"))
        ctx.send("\n\n".join(lines)[:4000], buttons=[ctx.back_to_menu_row()])

    async def _projects(self, ctx: FlowContext, commune: int) -> None:
        lines = [ctx.text("projects.title", commune=commune_label(commune))]
        for project in await ctx.uow.publications.projects(commune):
            entry = ctx.text("projects.entry", name=project.name,
                             status=ctx.text(f"projects.status.{project.status}"),
                             progress=project.progress_percent, budget=_money(ctx, project.budget_vnd),
                             start=_date(project.starts_on), end=_date(project.ends_on))
            for update in (await ctx.uow.publications.project_updates(project.id))[-3:]:
                entry += ctx.text("projects.update", date=_date(update.on), note=update.note,
                                  progress=update.progress_percent)
            lines.append(entry)
        if len(lines) == 1:
            lines.append(ctx.text("projects.none"))
        ctx.send("\n\n".join(lines)[:4000], buttons=[ctx.back_to_menu_row()])


register(PublicationsFlow())
