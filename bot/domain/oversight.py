"""The oversight boards of a commune and the clock of their observations (kiến nghị).

Luật Thực hiện dân chủ ở cơ sở 2022 (10/2022/QH15):
- Ban Thanh tra nhân dân (Điều 36–40) checks the commune's work and "kiến nghị" to the chairman (Điều 38
  khoản 2, 5); the commune answers within 15 days of receiving it (Điều 40 khoản 1 điểm c);
- Ban Giám sát đầu tư của cộng đồng is set up per project (Điều 41) and may ask and propose about it
  (Điều 43 khoản 2); the commune answers within 15 days (Điều 45 khoản 2 điểm c).

The law says "15 ngày", calendar days, counted as the Civil Code counts (the day of receipt not
counted; a last day on a weekend or holiday moves to the next working day). A board kind the law sets
no period for gets the commune's own target, marked as such (``statutory`` False). Pure: no framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from bot.domain.calendar import DEFAULT_CALENDAR, WorkingCalendar

BOARD_KINDS = ("inspection", "investment")


@dataclass(frozen=True)
class AnswerRule:
    rule_id: str
    amount: int
    unit: Literal["days", "working_days"]
    citation: str
    statutory: bool = True


ANSWER_RULES: dict[str, AnswerRule] = {
    "inspection": AnswerRule(
        "ldcs-2022-d40-k1c", 15, "days",
        "Luật Thực hiện dân chủ ở cơ sở 2022, Điều 40 khoản 1 điểm c: UBND cấp xã thông báo kết quả giải quyết "
        "kiến nghị của Ban Thanh tra nhân dân trong thời hạn 15 ngày kể từ ngày nhận được kiến nghị"),
    "investment": AnswerRule(
        "ldcs-2022-d45-k2c", 15, "days",
        "Luật Thực hiện dân chủ ở cơ sở 2022, Điều 45 khoản 2 điểm c: UBND cấp xã thông báo kết quả giải quyết "
        "kiến nghị của Ban Giám sát đầu tư của cộng đồng trong thời hạn 15 ngày kể từ ngày nhận được kiến nghị"),
}
# Not a legal limit: what a commune sets itself where the law is silent.
OWN_TARGET = AnswerRule("commune-target-observation", 15, "working_days",
                        "Mục tiêu riêng của UBND xã (pháp luật không quy định thời hạn trả lời)", statutory=False)


def answer_rule(board_kind: str) -> AnswerRule:
    return ANSWER_RULES.get(board_kind, OWN_TARGET)


def answer_due(board_kind: str, received_on: date, calendar: WorkingCalendar = DEFAULT_CALENDAR) -> tuple[date, AnswerRule]:
    """The last day for the commune's answer to an observation received on ``received_on``."""
    rule = answer_rule(board_kind)
    if rule.unit == "working_days":
        return calendar.add_working_days(received_on, rule.amount), rule
    return calendar.add_days(received_on, rule.amount), rule
