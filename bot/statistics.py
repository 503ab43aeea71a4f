"""Public figures of a commune (dân kiểm tra): items received and answered, the share answered on
time and the average days to answer, by kind and by category, for a period."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from storage.models import Item, ItemDeadline, ItemEvent


@dataclass
class Figures:
    received: int = 0
    answered: int = 0
    on_time: int = 0
    days_total: float = 0.0

    @property
    def on_time_percent(self) -> int | None:
        return round(100 * self.on_time / self.answered) if self.answered else None

    @property
    def average_days(self) -> float | None:
        return round(self.days_total / self.answered, 1) if self.answered else None


@dataclass
class Report:
    total: Figures = field(default_factory=Figures)
    by_kind: dict[str, Figures] = field(default_factory=lambda: defaultdict(Figures))
    by_category: dict[str, Figures] = field(default_factory=lambda: defaultdict(Figures))


async def commune_report(uow, commune_code: int, since: datetime, zone: ZoneInfo) -> Report:
    """Items received since ``since``; 'on time' means answered by the item's resolution deadline
    (its intake deadline when it never reached resolution)."""
    session = uow.session
    answered_at = (select(ItemEvent.item_id, func.min(ItemEvent.at).label("at"))
                   .where(ItemEvent.action == "answer").group_by(ItemEvent.item_id).subquery())
    due = (select(ItemDeadline.item_id, ItemDeadline.phase, func.max(ItemDeadline.due_on).label("due_on"))
           .where(ItemDeadline.phase.in_(("intake", "resolution"))).group_by(ItemDeadline.item_id, ItemDeadline.phase)
           .subquery())
    rows = (await session.execute(
        select(Item.id, Item.kind, Item.category, Item.received_at, answered_at.c.at)
        .outerjoin(answered_at, answered_at.c.item_id == Item.id)
        .where(Item.commune_code == commune_code, Item.received_at >= since))).all()
    deadlines: dict[int, dict[str, date]] = defaultdict(dict)
    if rows:
        for item_id, phase, due_on in (await session.execute(
                select(due.c.item_id, due.c.phase, due.c.due_on).where(due.c.item_id.in_([r[0] for r in rows])))).all():
            deadlines[item_id][phase] = due_on
    report = Report()
    for item_id, kind, category, received_at, answered in rows:
        for figures in (report.total, report.by_kind[kind], report.by_category[category]):
            figures.received += 1
            if answered is None:
                continue
            figures.answered += 1
            figures.days_total += (answered - received_at).total_seconds() / 86400
            limit = deadlines[item_id].get("resolution") or deadlines[item_id].get("intake")
            if limit is None or answered.astimezone(zone).date() <= limit:
                figures.on_time += 1
    return report
