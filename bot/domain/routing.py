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
