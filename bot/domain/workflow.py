"""The states every item moves through, as one table: a move that is not in it raises
``IllegalTransition``, never a silent change. Each move is an audit event and the citizen is told.

received → accepted (thụ lý) | refused (with a legal reason) | forwarded (to the competent body)
accepted → in progress ⇄ waiting for the citizen's information; extended / marked complex with a reason;
suspended (tạm đình chỉ) ⇄ resumed, the resolution clock stopped meanwhile
→ answered → closed (rated, or after a quiet period) | reopened | escalated to a second-time complaint.
The citizen may withdraw (rút đơn) at any open step.
"""

from __future__ import annotations

from enum import Enum

from bot.domain.kinds import ItemKind


class ItemStatus(str, Enum):
    received = "received"
    accepted = "accepted"          # thụ lý
    refused = "refused"            # không thụ lý, with a legal reason
    forwarded = "forwarded"        # chuyển đơn to the competent unit or authority
    in_progress = "in_progress"
    waiting_info = "waiting_info"  # waiting for the citizen's information
    answered = "answered"          # decision or reply sent
    closed = "closed"
    reopened = "reopened"
    escalated = "escalated"        # followed by a second-time complaint
    withdrawn = "withdrawn"        # rút đơn
    suspended = "suspended"        # tạm đình chỉ giải quyết: the resolution clock stands still


class Action(str, Enum):
    accept = "accept"
    refuse = "refuse"
    forward = "forward"
    start = "start"
    request_info = "request_info"
    info_provided = "info_provided"
    extend = "extend"
    answer = "answer"
    close = "close"
    reopen = "reopen"
    escalate = "escalate"
    withdraw = "withdraw"
    extend_intake = "extend_intake"  # a denunciation to be checked at several places (Luật Tố cáo 2018 Đ.24 k1)
    suspend = "suspend"              # tạm đình chỉ giải quyết
    resume = "resume"                # tiếp tục giải quyết

    @property
    def requires_reason(self) -> bool:
        return self in REASON_REQUIRED


# A refusal states its reason (Luật Khiếu nại 2011 Đ.27; Luật Tố cáo 2018 Đ.24 khoản 1); a forward
# says where to and why; an extension or a complex finding is decided in writing (Luật Tố cáo 2018
# Đ.30 khoản 4; NĐ 155/2026/NĐ-CP Điều 2: Điều 3a khoản 2 NĐ 124/2020); a request says what is missing;
# a suspension and its lifting are decisions stating their grounds (Luật Tố cáo 2018 Đ.34 khoản 4;
# NĐ 124/2020 Điều 28b, Mẫu 14a, 14b, added by NĐ 155/2026/NĐ-CP).
REASON_REQUIRED = frozenset({Action.refuse, Action.forward, Action.extend, Action.request_info,
                             Action.extend_intake, Action.suspend, Action.resume})

# Only a first complaint can be taken to a second: after its decision, or when its period ran out
# unresolved (Luật Khiếu nại 2011, Điều 33 khoản 1).
ACTION_ONLY_FOR: dict[Action, frozenset[ItemKind]] = {
    Action.escalate: frozenset({ItemKind.complaint_first}),
    # Only the laws on complaints (Đ.28, Đ.37: a complex case) and denunciations (Đ.30: extensions)
    # lengthen a resolution period; feedback has a target, anonymous information none at all.
    Action.extend: frozenset({ItemKind.complaint_first, ItemKind.complaint_second, ItemKind.denunciation}),
    Action.extend_intake: frozenset({ItemKind.denunciation}),
    # Luật Tố cáo 2018 Đ.34; Luật Khiếu nại 2011 Đ.11a (as amended in 2025).
    Action.suspend: frozenset({ItemKind.complaint_first, ItemKind.complaint_second, ItemKind.denunciation}),
    Action.resume: frozenset({ItemKind.complaint_first, ItemKind.complaint_second, ItemKind.denunciation}),
}

S, A = ItemStatus, Action
TRANSITIONS: dict[tuple[ItemStatus, Action], ItemStatus] = {
    (S.received, A.accept): S.accepted,
    (S.received, A.refuse): S.refused,
    (S.received, A.forward): S.forwarded,
    (S.received, A.withdraw): S.withdrawn,
    (S.received, A.extend_intake): S.received,

    (S.accepted, A.start): S.in_progress,
    (S.accepted, A.request_info): S.waiting_info,
    (S.accepted, A.extend): S.accepted,
    (S.accepted, A.answer): S.answered,
    (S.accepted, A.escalate): S.escalated,
    (S.accepted, A.withdraw): S.withdrawn,
    (S.accepted, A.suspend): S.suspended,

    (S.in_progress, A.request_info): S.waiting_info,
    (S.in_progress, A.extend): S.in_progress,
    (S.in_progress, A.answer): S.answered,
    (S.in_progress, A.escalate): S.escalated,
    (S.in_progress, A.withdraw): S.withdrawn,
    (S.in_progress, A.suspend): S.suspended,

    (S.waiting_info, A.info_provided): S.in_progress,
    (S.waiting_info, A.start): S.in_progress,  # the officer goes on without the information
    (S.waiting_info, A.extend): S.waiting_info,
    (S.waiting_info, A.escalate): S.escalated,
    (S.waiting_info, A.withdraw): S.withdrawn,
    (S.waiting_info, A.suspend): S.suspended,

    (S.suspended, A.resume): S.in_progress,
    (S.suspended, A.withdraw): S.withdrawn,

    (S.answered, A.close): S.closed,
    (S.answered, A.reopen): S.reopened,
    (S.answered, A.escalate): S.escalated,

    (S.reopened, A.start): S.in_progress,
    (S.reopened, A.request_info): S.waiting_info,
    (S.reopened, A.answer): S.answered,
    (S.reopened, A.withdraw): S.withdrawn,

    (S.refused, A.close): S.closed,
    (S.forwarded, A.close): S.closed,
    # The second-complaint window (30 days, Đ.33) can outlast the quiet period that closed the item.
    (S.closed, A.escalate): S.escalated,
}

OPEN = frozenset({S.received, S.accepted, S.in_progress, S.waiting_info, S.reopened, S.suspended})


class IllegalTransition(ValueError):
    def __init__(self, status: ItemStatus, action: Action, kind: ItemKind | None = None):
        about = f" {kind.value}" if kind else "n item"
        super().__init__(f"cannot {action.value} a{about} that is {status.value}")
        self.status, self.action, self.kind = status, action, kind


def transition(status: ItemStatus, action: Action, kind: ItemKind | None = None) -> ItemStatus:
    """The status after ``action``; ``kind``, when given, is checked against kind-only actions."""
    status, action = ItemStatus(status), Action(action)
    target = TRANSITIONS.get((status, action))
    if target is None or (kind is not None and kind not in ACTION_ONLY_FOR.get(action, frozenset(ItemKind))):
        raise IllegalTransition(status, action, kind)
    return target


def allowed_actions(status: ItemStatus, kind: ItemKind | None = None) -> list[Action]:
    """What an officer or citizen may do next, in table order (for buttons)."""
    return [action for (source, action) in TRANSITIONS
            if source == status and (kind is None or kind in ACTION_ONLY_FOR.get(action, frozenset(ItemKind)))]


def is_open(status: ItemStatus) -> bool:
    return ItemStatus(status) in OPEN
