"""What an official report counts, for one scope and one period: the items received and what became of
them (accepted, resolved, on time, late, overdue, rated), by commune, kind, category, unit and month; the
reception sessions held and the citizens received (bot/reports/reception.py). Counts only: no item
text, no name, phone or address (Luật Bảo vệ dữ liệu cá nhân 2025); the items' places leave this module
only as counts per map cell.

The scope comes from the policy (bot/policy.py ``figures_scope``): a unit's leader their unit, a
commune's chairman, admin or board the commune, the province's readers every commune of the province,
rolled up commune by commune. Every item is counted by bot/statistics.py ``item_facts``, the same model
the chat's figures count."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.channels.zalo_notices import template_notice_costs
from bot.domain.communes import commune_label
from bot.domain.provinces import communes_of, province_name
from bot.officers import items_within
from bot.policy import Level, Scope
from bot.reports.period import Period
from bot.reports.reception import Reception, reception_figures
from bot.statistics import ItemFacts, item_facts
from storage.models import CommuneCategory, Unit, utcnow

NO_UNIT = 0  # the key of items not (yet) routed to a unit


@dataclass
class Tally:
    """One row of a report."""

    received: int = 0
    accepted: int = 0
    resolved: int = 0
    on_time: int = 0
    overdue: int = 0
    rated: int = 0
    satisfied: int = 0
    days_total: float = 0.0

    @property
    def late(self) -> int:
        return self.resolved - self.on_time

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.resolved if self.resolved else None

    @property
    def satisfaction_rate(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None

    @property
    def average_days(self) -> float | None:
        return round(self.days_total / self.resolved, 1) if self.resolved else None

    def add(self, item: ItemFacts) -> None:
        self.received += 1
        self.accepted += item.accepted
        self.overdue += item.overdue
        if item.answered_at is not None:
            self.resolved += 1
            self.on_time += item.on_time
            self.days_total += (item.answered_at - item.received_at).total_seconds() / 86400
        if item.satisfied is not None:
            self.rated += 1
            self.satisfied += item.satisfied


@dataclass
class ReportFigures:
    scope: Scope
    period: Period
    cut_off: datetime          # what had happened by then is counted: the period's end, or now
    made_at: datetime
    title: str                 # the commune, the unit, or the province
    total: Tally = field(default_factory=Tally)
    by_commune: dict[int, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_kind: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_category: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_unit: dict[int, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_month: dict[str, Tally] = field(default_factory=dict)
    reception: dict[int, Reception] = field(default_factory=dict)  # empty when the scope is one unit
    unit_names: dict[int, str] = field(default_factory=dict)
    category_labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # key → (vi, en)
    places: list[tuple[float, float]] = field(default_factory=list)  # for the map's cells only
    zalo: dict[int, tuple[int, int]] = field(default_factory=dict)  # commune → (template notices, VND)

    @property
    def rolls_up(self) -> bool:
        return self.scope.level is Level.province

    @property
    def reception_total(self) -> Reception:
        return sum(self.reception.values(), Reception())

    @property
    def zalo_total(self) -> tuple[int, int]:
        return sum(n for n, _ in self.zalo.values()), sum(c for _, c in self.zalo.values())

    @property
    def has_reception(self) -> bool:
        return self.scope.level is not Level.unit


def scope_communes(scope: Scope) -> tuple[int, ...]:
    if scope.level is Level.province:
        return communes_of(scope.province_code)
    return (scope.commune_code,) if scope.commune_code is not None else ()


async def report_figures(uow, scope: Scope, period: Period, zone: ZoneInfo, *, now: datetime | None = None) -> ReportFigures:
    now = now or utcnow()
    cut_off = min(now, period.ends_at(zone))
    figures = ReportFigures(scope, period, cut_off, now, await scope_title(uow, scope))
    figures.by_month = {month: Tally() for month in period.months()}
    facts = await item_facts(uow, items_within(scope), period.starts_at(zone), zone, until=period.ends_at(zone),
                             cut_off=cut_off)
    for item in facts:
        month = item.received_at.astimezone(zone).strftime("%Y-%m")
        for tally in (figures.total, figures.by_commune[item.commune_code], figures.by_kind[item.kind],
                      figures.by_category[item.category], figures.by_unit[item.unit_id or NO_UNIT],
                      figures.by_month.setdefault(month, Tally())):
            tally.add(item)
        if item.latitude is not None and item.longitude is not None:
            figures.places.append((item.latitude, item.longitude))
    units = [u for u in figures.by_unit if u != NO_UNIT]
    if units:
        figures.unit_names = dict((await uow.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(units)))).all())
    figures.category_labels = await _category_labels(uow, scope, set(figures.by_category))
    if figures.has_reception:
        communes = scope_communes(scope)
        figures.reception = await reception_figures(uow, communes, period, zone, cut_off)
        last_day = min(period.last, cut_off.astimezone(zone).date())
        figures.zalo = await template_notice_costs(uow, list(communes), period.first, last_day)
        for commune in (*figures.reception, *figures.zalo):
            figures.by_commune.setdefault(commune, Tally())
    return figures


async def scope_title(uow, scope: Scope) -> str:
    if scope.level is Level.province:
        return province_name(scope.province_code)
    if scope.level is Level.unit:
        unit = await uow.units.get(scope.unit_id)
        name = unit.name if unit is not None else str(scope.unit_id)
        return f"{name} — {commune_label(scope.commune_code)}" if scope.commune_code else name
    return commune_label(scope.commune_code)


async def _category_labels(uow, scope: Scope, keys: set[str]) -> dict[str, tuple[str, str]]:
    """A commune's own labels where it has them (the first commune's, in a province), else the defaults."""
    from bot.categories import DEFAULT_CATEGORIES

    labels = {c.key: (c.label_vi, c.label_en) for c in DEFAULT_CATEGORIES if c.key in keys}
    if keys and scope.level is not Level.nothing:
        query = select(CommuneCategory.key, CommuneCategory.label_vi, CommuneCategory.label_en).where(
            CommuneCategory.key.in_(sorted(keys)))
        if scope.level is not Level.province:
            query = query.where(CommuneCategory.commune_code == scope.commune_code)
        for key, vi, en in (await uow.session.execute(query.order_by(CommuneCategory.commune_code))).all():
            labels.setdefault(key, (vi, en))
            if scope.level is not Level.province:
                labels[key] = (vi, en)
    return labels
