"""How a province's deployment is organised, as the import set it: which unit handles a commune's
items — its own, or a unit of the province for a commune without units of its own — what the citizens
of a commune nobody on tiepdan acts for are told instead, whether a commune is a remote area, and where
a second complaint goes.

Since 1/7/2025 local government has two levels, the province and the commune; a province deploys one
tiepdan for its 100–170 communes, and not all of them have their own officers on it. No item is ever
created without a unit: ``unit_for`` raises ``NoUnit`` and the submission flow tells the citizen, before
they file, where to go (``handling``).

Lookups are kept for the unit of work (``Session.info``): a group of submissions committed together
reads each commune's organisation once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.domain.provinces import province_of
from bot.domain.routing import RoutingRule, handler_for, second_complaint_handler
from storage.models import CommuneProfile, Item, Unit


class NoUnit(LookupError):
    """Nobody on tiepdan acts for this commune: an item would reach no inbox."""

    def __init__(self, commune_code: int, refer_to: str | None = None):
        super().__init__(f"no unit handles items of commune {commune_code}")
        self.commune_code, self.refer_to = commune_code, refer_to


@dataclass(frozen=True)
class Handling:
    """Where a commune's items go: ``unit`` (None: nowhere on tiepdan), whether that unit is the
    province's, and what the citizen is told to do instead when nobody acts (``refer_to``)."""

    unit: Unit | None
    refer_to: str | None = None

    @property
    def by_province(self) -> bool:
        return self.unit is not None and self.unit.at_province


def _cache(uow) -> dict:
    return uow.session.info.setdefault("organisation", {})


async def profile(uow, commune_code: int) -> CommuneProfile | None:
    cache = _cache(uow)
    key = ("profile", commune_code)
    if key not in cache:
        with uow.session.no_autoflush:  # what is pending (items being filed) does not change it
            cache[key] = await uow.session.get(CommuneProfile, commune_code)
    return cache[key]


async def province_unit(uow, province_code: int | None, *, fallback: bool = False,
                        second_complaints: bool = False) -> Unit | None:
    """The province's fallback unit, or the one that takes second complaints (the first made)."""
    if province_code is None:
        return None
    cache = _cache(uow)
    key = ("province", province_code, fallback, second_complaints)
    if key not in cache:
        query = select(Unit).where(Unit.commune_code.is_(None), Unit.province_code == province_code)
        if fallback:
            query = query.where(Unit.is_fallback.is_(True))
        if second_complaints:
            query = query.where(Unit.takes_second_complaints.is_(True))
        with uow.session.no_autoflush:
            cache[key] = (await uow.session.execute(query.order_by(Unit.id))).scalars().first()
    return cache[key]


async def handling(uow, commune_code: int, category: str | None = None) -> Handling:
    """Who handles an item of ``commune_code`` in ``category`` (bot/domain/routing.py, ``handler_for``)."""
    rules = [RoutingRule(r.commune_code, r.category, r.unit_id) for r in await uow.units.routing_rules(commune_code)]
    own = await uow.units.fallback_for(commune_code)
    unit_id = handler_for(rules, commune_code, category, commune_fallback=own.id if own else None)
    refer_to = None
    if unit_id is None:  # a commune without units of its own (or without a fallback among them)
        known = await profile(uow, commune_code)
        refer_to = known.refer_to if known is not None else None
        fallback = await province_unit(uow, province_of(commune_code), fallback=True)
        unit_id = handler_for(rules, commune_code, category, commune_fallback=None,
                              served_by=known.served_by_unit_id if known is not None else None,
                              referred=refer_to is not None, province_fallback=fallback.id if fallback else None)
    unit = await uow.units.get(unit_id) if unit_id is not None else None
    return Handling(unit, refer_to if unit is None else None)


async def unit_for(uow, commune_code: int, category: str | None) -> int:
    """The unit an item of ``commune_code`` goes to; NoUnit when nobody on tiepdan acts for it."""
    found = await handling(uow, commune_code, category)
    if found.unit is None:
        raise NoUnit(commune_code, found.refer_to)
    return found.unit.id


async def is_remote(uow, commune_code: int) -> bool:
    """Vùng sâu, vùng xa, đi lại khó khăn: commune data, which lengthens complaint periods and filing
    windows (Luật Khiếu nại 2011, Điều 9, 28, 33, 37)."""
    known = await profile(uow, commune_code)
    return bool(known is not None and known.remote_area)


async def second_complaint_unit(uow, first: Item) -> int | None:
    """Where a second complaint against the answer to ``first`` goes: the province's unit for second
    complaints when the province has one (Luật Khiếu nại 2011, Điều 7 khoản 1), else the commune's own
    routing, as for any item (None lets ``file_submission`` route it)."""
    unit = await province_unit(uow, province_of(first.commune_code), second_complaints=True)
    return second_complaint_handler(unit.id if unit is not None else None, None)


async def province_unit_ids(uow) -> frozenset[int]:
    """Every unit of a province (they are few): a commune's scope stops at them (bot/policy.py)."""
    cache = _cache(uow)
    if "province_units" not in cache:
        with uow.session.no_autoflush:
            rows = await uow.session.execute(select(Unit.id).where(Unit.commune_code.is_(None)))
        cache["province_units"] = frozenset(rows.scalars())
    return cache["province_units"]


async def province_units(uow, province_code: int | None) -> list[Unit]:
    """A province's own units, for an officer forwarding an item above the commune."""
    if province_code is None:
        return []
    rows = await uow.session.execute(select(Unit).where(Unit.commune_code.is_(None), Unit.province_code == province_code)
                                     .order_by(Unit.id))
    return list(rows.scalars())
