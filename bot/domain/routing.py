"""Routing: which unit of the commune handles an item, by category × commune, with a fallback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class RoutingRule:
    commune_code: int | None  # None: any commune
    category: str | None      # None: any category
    unit_id: int

    def specificity(self, commune_code: int, category: str) -> int | None:
        """How well the rule fits (higher is better), or None when it does not apply."""
        if self.commune_code not in (None, commune_code) or self.category not in (None, category):
            return None
        return (2 if self.category is not None else 0) + (1 if self.commune_code is not None else 0)


def route(rules: Iterable[RoutingRule], commune_code: int, category: str, fallback_unit_id: int | None) -> int | None:
    """The most specific matching rule wins: commune+category, then category, then commune, then fallback."""
    best: tuple[int, int] | None = None
    for rule in rules:
        score = rule.specificity(commune_code, category)
        if score is not None and (best is None or score > best[0]):
            best = (score, rule.unit_id)
    return best[1] if best else fallback_unit_id
