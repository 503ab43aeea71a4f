"""How deadlines read on receipts, a citizen's item and an officer's screen.

What the law sets comes first, each with its article, in date order; the commune's own targets
follow under a heading of their own, so nobody takes a target for a legal limit (or the other way
round). Officers read the phases in officer words ("update the citizen"), not the citizen's
("update for you").
"""

from __future__ import annotations

from bot.domain.deadlines import RULES
from bot.texts import has
from handlers.core import FlowContext

_STATUTORY = {rule.rule_id: rule.statutory for rule in RULES}


def statutory(deadline) -> bool:
    """Whether a deadline (a receipt's ``DueDate`` or an ``ItemDeadline`` row) is the law's; an unknown
    rule id (a rule since retired) is taken as the law's, never downgraded to a mere target."""
    return _STATUTORY.get(deadline.rule_id, True)


def in_reading_order(deadlines) -> list:
    """The law's deadlines by date, then the commune's own targets by date."""
    return sorted(deadlines, key=lambda d: (not statutory(d), d.due_on))


def phase(ctx: FlowContext, name: str, *, officer: bool = False) -> str:
    key = f"conv.officer_phase.{name}"
    return ctx.text(key) if officer and has(key) else ctx.text(f"phase.{name}")


def deadline_lines(ctx: FlowContext, deadlines, *, officer: bool = False) -> str:
    """The deadlines as lines: those of the law with their citation, then the commune's targets,
    labelled as its own; an empty string when there is none."""
    legal = [d for d in in_reading_order(deadlines) if statutory(d)]
    own = [d for d in in_reading_order(deadlines) if not statutory(d)]
    lines = [ctx.text("deadline.line", phase=phase(ctx, d.phase, officer=officer), date=d.due_on.strftime("%d/%m/%Y"),
                      citation=d.citation) for d in legal]
    if own:
        lines.append(ctx.text("conv.deadlines.own"))
        lines += [ctx.text("conv.deadline.own_line", phase=phase(ctx, d.phase, officer=officer),
                           date=d.due_on.strftime("%d/%m/%Y")) for d in own]
    return "\n".join(lines)
