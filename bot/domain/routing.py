"""Routing: which unit of the commune handles an item, by category and commune, with a fallback.

The most specific rule wins: commune + category, then category alone (the category decides which
office is competent: land → địa chính), then commune alone, then the fallback unit (văn phòng UBND).
Between equally specific rules the first listed wins, so the order the admin set is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class RoutingRule:
    commune_code: int | None  # None: any commune
    category: str | None      # None: any category
    unit_id: int

    def specificity(self, commune_code: int | None, category: str | None) -> int | None:
        """How closely the rule fits (higher is closer), or None when it does not apply."""
        if self.commune_code is not None and self.commune_code != commune_code:
            return None
        if self.category is not None and self.category != category:
            return None
        return (2 if self.category is not None else 0) + (1 if self.commune_code is not None else 0)


def route(rules: Iterable[RoutingRule], commune_code: int | None, category: str | None,
          fallback_unit_id: int | None) -> int | None:
    best_score, best_unit = -1, fallback_unit_id
    for rule in rules:
        score = rule.specificity(commune_code, category)
        if score is not None and score > best_score:
            best_score, best_unit = score, rule.unit_id
    return best_unit


def handler_for(rules: Iterable[RoutingRule], commune_code: int | None, category: str | None, *,
                commune_fallback: int | None, served_by: int | None = None, referred: bool = False,
                province_fallback: int | None = None) -> int | None:
    """The unit that handles an item of ``commune_code``, since 1/7/2025 when a province deploys one
    tiepdan for all its communes. The commune's own rules and fallback come first. A commune without
    units of its own is served by the province unit named for it (``served_by``) or, unless its
    citizens are ``referred`` elsewhere (to another commune, an office without tiepdan), by the
    province's fallback unit. None: nobody on tiepdan acts for it, and no item may be created."""
    fallback = commune_fallback
    if fallback is None:
        fallback = served_by if served_by is not None else (None if referred else province_fallback)
    return route(rules, commune_code, category, fallback)


def second_complaint_handler(province_unit: int | None, routed: int | None) -> int | None:
    """Luật Khiếu nại 2011, Điều 7 khoản 1 (and Điều 33 on its window): a second complaint goes to the
    direct superior of whoever decided the first. With two levels of local government a commune
    chairman's superior is the province's: its unit that takes second complaints, when the province has
    named one; otherwise ``routed``, the commune's own routing."""
    return province_unit if province_unit is not None else routed
