"""Public figures of a commune (dân kiểm tra): items received and answered, the share answered on
time and the average days to answer, by kind and by category, for a period.

``item_facts`` is the one model of what happened to each item that the chat's figures and the official
reports (bot/reports/) both count: received, accepted (thụ lý), answered, by which deadline, overdue at a
cut-off, the citizen's verdict. Counting as of a cut-off (the end of a past period) makes a report of a
closed period the same whenever it is made."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from storage.models import Item, ItemDeadline, ItemEvent, utcnow

# Deadlines an item can be late on: the legal periods of intake, forwarding, the acceptance notice and
# resolution (for feedback, which the law gives no resolution period, the commune's own target).
KEPT_PHASES = ("intake", "forwarding", "acceptance_notice", "resolution")


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


@dataclass(frozen=True)
class ItemFacts:
    """One item as the figures see it; no text, no person."""

    item_id: int
    commune_code: int
    unit_id: int | None
    kind: str
    category: str
    received_at: datetime
    accepted: bool              # thụ lý by the cut-off
    answered_at: datetime | None  # its first answer, if given by the cut-off
    due_on: date | None         # the deadline "on time" is measured by
    on_time: bool               # answered no later than ``due_on`` (or with no deadline)
    overdue: bool               # not answered, and a deadline of KEPT_PHASES ran out unmet by the cut-off
    satisfied: bool | None      # the citizen's last verdict given by the cut-off; None: not rated
    latitude: float | None = None
    longitude: float | None = None


async def item_facts(uow, where, since: datetime, zone: ZoneInfo, *, until: datetime | None = None,
                     cut_off: datetime | None = None) -> list[ItemFacts]:
    """The items matching ``where`` (a condition on the items table) received in [since, until), and
    what had happened to them by ``cut_off`` (default: now).

    On time: answered by the last day of the item's resolution period as it stands, lawful extensions
    included (several rows of the phase exist after an extension; the latest due day counts); an item
    that never reached resolution by its intake deadline."""
    cut_off = cut_off or utcnow()
    session = uow.session
    within = [where, Item.received_at >= since] + ([Item.received_at < until] if until is not None else [])
    rows = (await session.execute(
        select(Item.id, Item.commune_code, Item.unit_id, Item.kind, Item.category, Item.received_at,
               Item.accepted_at, Item.latitude, Item.longitude).where(*within))).all()
    if not rows:
        return []
    answers = dict((await session.execute(
        select(ItemEvent.item_id, func.min(ItemEvent.at)).join(Item, Item.id == ItemEvent.item_id)
        .where(*within, ItemEvent.action == "answer", ItemEvent.at <= cut_off)
        .group_by(ItemEvent.item_id))).all())
    deadlines: dict[int, list[tuple[str, date, datetime | None]]] = defaultdict(list)
    for item_id, phase, due_on, done_at in (await session.execute(
            select(ItemDeadline.item_id, ItemDeadline.phase, ItemDeadline.due_on, ItemDeadline.done_at)
            .join(Item, Item.id == ItemDeadline.item_id)
            .where(*within, ItemDeadline.phase.in_(KEPT_PHASES)))).all():
        deadlines[item_id].append((phase, due_on, done_at))
    verdicts: dict[int, bool] = {}
    for item_id, data in (await session.execute(
            select(ItemEvent.item_id, ItemEvent.data).join(Item, Item.id == ItemEvent.item_id)
            .where(*within, ItemEvent.action == "rate", ItemEvent.at <= cut_off)
            .order_by(ItemEvent.at, ItemEvent.id))).all():
        if isinstance(data, dict) and isinstance(data.get("satisfied"), bool):
            verdicts[item_id] = data["satisfied"]
    cut_day = cut_off.astimezone(zone).date()
    facts = []
    for item_id, commune, unit, kind, category, received_at, accepted_at, lat, lon in rows:
        answered = answers.get(item_id)
        mine = deadlines.get(item_id, ())
        due = (max((d for p, d, _ in mine if p == "resolution"), default=None)
               or max((d for p, d, _ in mine if p == "intake"), default=None))
        on_time = answered is not None and (due is None or answered.astimezone(zone).date() <= due)
        overdue = answered is None and any(
            due_on < cut_day and (done_at is None or done_at > cut_off) for _, due_on, done_at in mine)
        facts.append(ItemFacts(item_id, commune, unit, kind, category, received_at,
                               accepted_at is not None and accepted_at <= cut_off, answered, due, on_time, overdue,
                               verdicts.get(item_id), lat, lon))
    return facts


async def commune_report(uow, commune_code: int, since: datetime, zone: ZoneInfo) -> Report:
    """Items received since ``since``; 'on time' means answered by the item's resolution deadline
    (its intake deadline when it never reached resolution)."""
    report = Report()
    for item in await item_facts(uow, Item.commune_code == commune_code, since, zone):
        for figures in (report.total, report.by_kind[item.kind], report.by_category[item.category]):
            figures.received += 1
            if item.answered_at is None:
                continue
            figures.answered += 1
            figures.days_total += (item.answered_at - item.received_at).total_seconds() / 86400
            figures.on_time += item.on_time
    return report
