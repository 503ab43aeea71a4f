"""Dân kiểm tra — the commune's public figures for this month and this year."""

from __future__ import annotations

from datetime import datetime, time

from bot.categories import DEFAULT_CATEGORIES
from bot.domain.communes import commune_label
from bot.statistics import Figures, commune_report
from handlers.core import FlowContext, register


class StatisticsFlow:
    name = "statistics"

    async def prompt(self, ctx: FlowContext) -> None:
        zone = ctx.settings.zone
        today = datetime.now(zone).date()
        period = ctx.conversation.data.get("period", "month")
        start = today.replace(day=1) if period == "month" else today.replace(month=1, day=1)
        report = await commune_report(ctx.uow, ctx.user.commune_code, datetime.combine(start, time(), zone), zone)
        labels = {c.key: c.label(ctx.lang) for c in DEFAULT_CATEGORIES}
        lines = [ctx.text("stats.title", commune=commune_label(ctx.user.commune_code),
                          period=ctx.text(f"stats.period.{period}", month=f"{today:%m/%Y}", year=today.year)),
                 self._line(ctx, ctx.text("stats.total"), report.total)]
        if report.total.received:
            lines.append(ctx.text("stats.by_kind"))
            lines += [self._line(ctx, ctx.text(f"kind.{kind}"), f) for kind, f in sorted(report.by_kind.items())]
            lines.append(ctx.text("stats.by_category"))
            lines += [self._line(ctx, labels.get(c, c), f) for c, f in sorted(report.by_category.items())]
        other = "year" if period == "month" else "month"
        ctx.send("\n".join(lines), buttons=[[ctx.button(f"stats.show.{other}", f"stats:{other}")],
                                                    ctx.back_to_menu_row()])

    def _line(self, ctx: FlowContext, label: str, figures: Figures) -> str:
        on_time = "—" if figures.on_time_percent is None else f"{figures.on_time_percent}%"
        days = "—" if figures.average_days is None else f"{figures.average_days:g}"
        return ctx.text("stats.line", label=label, received=figures.received, answered=figures.answered,
                        on_time=on_time, days=days)

    async def handle(self, ctx: FlowContext) -> None:
        choice = ctx.incoming.button or ""
        if choice in ("stats:month", "stats:year"):
            ctx.conversation.data["period"] = choice[6:]
            await self.prompt(ctx)
        else:
            await ctx.goto("menu", "main")


register(StatisticsFlow())
