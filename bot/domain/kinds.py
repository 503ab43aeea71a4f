"""Item kinds: what a citizen can send, and what the law asks of each."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ItemKind(str, Enum):
    feedback = "feedback"                  # phản ánh, kiến nghị
    complaint_first = "complaint_first"    # khiếu nại lần đầu
    complaint_second = "complaint_second"  # khiếu nại lần hai
    denunciation = "denunciation"          # tố cáo
    information = "information"            # anonymous tố cáo: kept as information only (Luật Tố cáo 2018, Đ.25)


class Phase(str, Enum):
    intake = "intake"                # xử lý ban đầu, thụ lý
    acceptance_notice = "acceptance_notice"  # thông báo thụ lý
    resolution = "resolution"        # giải quyết
    status_update = "status_update"  # tell the citizen where things stand
    escalation = "escalation"        # hard escalation to the leader


@dataclass(frozen=True)
class KindRules:
    requires_identity: bool
    may_be_anonymous: bool
    identity_secret: bool
    citation: str


KIND_RULES: dict[ItemKind, KindRules] = {
    ItemKind.feedback: KindRules(False, True, False,
                                 "Luật Tiếp công dân 2013, Điều 7; NĐ 20/2008/NĐ-CP (sửa đổi bởi NĐ 92/2017/NĐ-CP)"),
    ItemKind.complaint_first: KindRules(True, False, False, "Luật Khiếu nại 2011, Điều 8"),
    ItemKind.complaint_second: KindRules(True, False, False, "Luật Khiếu nại 2011, Điều 8, Điều 33"),
    ItemKind.denunciation: KindRules(True, False, True, "Luật Tố cáo 2018, Điều 8, Điều 9, Điều 23, Điều 47"),
    ItemKind.information: KindRules(False, True, False, "Luật Tố cáo 2018, Điều 25"),
}
