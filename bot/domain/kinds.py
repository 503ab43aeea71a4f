"""Item kinds: what a citizen can send, and what the law asks of each about the sender's identity.

A submission that mixes kinds is split, one item per kind (Luật Tiếp công dân 2013, Điều 25).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ItemKind(str, Enum):
    feedback = "feedback"                  # phản ánh, kiến nghị
    complaint_first = "complaint_first"    # khiếu nại lần đầu
    complaint_second = "complaint_second"  # khiếu nại lần hai
    denunciation = "denunciation"          # tố cáo
    information = "information"            # anonymous tố cáo: kept as information only (Luật Tố cáo 2018, Đ.25)

    @property
    def facts(self) -> KindFacts:
        return KIND_FACTS[self]

    @property
    def requires_identity(self) -> bool:
        return self.facts.requires_identity

    @property
    def may_be_anonymous(self) -> bool:
        return self.facts.may_be_anonymous

    @property
    def identity_secret(self) -> bool:
        return self.facts.identity_secret


class Phase(str, Enum):
    """A stretch of an item's life that has a deadline of its own."""

    filing = "filing"                        # thời hiệu, thời hạn khiếu nại: the citizen's window to file
    intake = "intake"                        # xử lý ban đầu, thụ lý
    forwarding = "forwarding"                # chuyển đơn to the competent body when not ours
    acceptance_notice = "acceptance_notice"  # thông báo thụ lý
    resolution = "resolution"                # giải quyết
    extension = "extension"                  # gia hạn giải quyết, added to the resolution deadline
    status_update = "status_update"          # tell the citizen where things stand
    escalation = "escalation"                # hard escalation to the leader


@dataclass(frozen=True)
class KindFacts:
    """What the law says about the sender of one kind of item."""

    requires_identity: bool  # full name, address and a way to reach the sender must be given
    may_be_anonymous: bool
    identity_secret: bool   # officers work on a redacted file; name, address, handwriting never disclosed
    identity_citation: str
    secrecy_citation: str | None = None


KIND_FACTS: dict[ItemKind, KindFacts] = {
    # The law expects a name, address and phone on written feedback so that it can be answered; the
    # product still takes anonymous feedback, which then gets no statutory reply (see DESIGN.md).
    ItemKind.feedback: KindFacts(
        requires_identity=False, may_be_anonymous=True, identity_secret=False,
        identity_citation="NĐ 20/2008/NĐ-CP, Điều 7 khoản 1 điểm d; Luật Tiếp công dân 2013, Điều 7 khoản 2 điểm a"),
    ItemKind.complaint_first: KindFacts(
        requires_identity=True, may_be_anonymous=False, identity_secret=False,
        identity_citation="Luật Khiếu nại 2011, Điều 8 khoản 2"),
    ItemKind.complaint_second: KindFacts(
        requires_identity=True, may_be_anonymous=False, identity_secret=False,
        identity_citation="Luật Khiếu nại 2011, Điều 8 khoản 2; Điều 33 khoản 1"),
    ItemKind.denunciation: KindFacts(
        requires_identity=True, may_be_anonymous=False, identity_secret=True,
        identity_citation="Luật Tố cáo 2018, Điều 23 khoản 1",
        secrecy_citation="Luật Tố cáo 2018, Điều 8 khoản 3; Điều 9 khoản 1 điểm b; Điều 56"),
    ItemKind.information: KindFacts(
        requires_identity=False, may_be_anonymous=True, identity_secret=False,
        identity_citation="Luật Tố cáo 2018, Điều 25"),
}
