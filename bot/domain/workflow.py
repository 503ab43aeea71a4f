"""The states every item moves through. The table below is the whole workflow: a move that is not
in it is an error (``IllegalTransition``), never a silent change."""

from __future__ import annotations

from enum import Enum


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
    escalated = "escalated"        # became a second-time complaint
    withdrawn = "withdrawn"        # rút đơn


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

    @property
    def requires_reason(self) -> bool:
        return self in REASON_REQUIRED


REASON_REQUIRED = frozenset({Action.refuse, Action.forward, Action.extend, Action.request_info, Action.reopen})

S, A = ItemStatus, Action
TRANSITIONS: dict[tuple[ItemStatus, Action], ItemStatus] = {
    (S.received, A.accept): S.accepted,
    (S.received, A.refuse): S.refused,
    (S.received, A.forward): S.forwarded,
    (S.received, A.request_info): S.waiting_info,
    (S.received, A.withdraw): S.withdrawn,
    (S.accepted, A.start): S.in_progress,
    (S.accepted, A.request_info): S.waiting_info,
    (S.accepted, A.extend): S.accepted,
    (S.accepted, A.answer): S.answered,
    (S.accepted, A.withdraw): S.withdrawn,
    (S.in_progress, A.request_info): S.waiting_info,
    (S.in_progress, A.extend): S.in_progress,
    (S.in_progress, A.answer): S.answered,
    (S.in_progress, A.forward): S.forwarded,
    (S.in_progress, A.withdraw): S.withdrawn,
    (S.waiting_info, A.info_provided): S.in_progress,
    (S.waiting_info, A.withdraw): S.withdrawn,
    (S.answered, A.close): S.closed,
    (S.answered, A.reopen): S.reopened,
    (S.answered, A.escalate): S.escalated,
    (S.reopened, A.start): S.in_progress,
    (S.reopened, A.answer): S.answered,
    (S.reopened, A.withdraw): S.withdrawn,
    (S.refused, A.close): S.closed,
    (S.forwarded, A.close): S.closed,
}

OPEN = frozenset({S.received, S.accepted, S.in_progress, S.waiting_info, S.reopened})


class IllegalTransition(ValueError):
    def __init__(self, status: ItemStatus, action: Action):
        super().__init__(f"cannot {action.value} an item that is {status.value}")
        self.status = status
        self.action = action


def transition(status: ItemStatus, action: Action) -> ItemStatus:
    try:
        return TRANSITIONS[(ItemStatus(status), Action(action))]
    except KeyError:
        raise IllegalTransition(ItemStatus(status), Action(action)) from None


def allowed_actions(status: ItemStatus) -> list[Action]:
    return [action for (source, action) in TRANSITIONS if source == status]


def is_open(status: ItemStatus) -> bool:
    return ItemStatus(status) in OPEN
