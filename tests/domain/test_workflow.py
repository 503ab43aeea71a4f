import pytest

from bot.domain.kinds import ItemKind
from bot.domain.workflow import (
    TRANSITIONS,
    Action,
    IllegalTransition,
    ItemStatus,
    allowed_actions,
    is_open,
    transition,
)

S, A = ItemStatus, Action


@pytest.mark.parametrize("source, action, target", [(s, a, t) for (s, a), t in TRANSITIONS.items()])
def test_every_allowed_transition(source, action, target):
    assert transition(source, action) is target


@pytest.mark.parametrize("source, action", [
    (S.received, A.answer),         # nothing is answered before it is accepted
    (S.received, A.close),
    (S.received, A.request_info),   # identity is gathered before submission, not after
    (S.waiting_info, A.answer),
    (S.refused, A.accept),
    (S.answered, A.accept),
    (S.answered, A.withdraw),       # too late to withdraw once answered
    (S.closed, A.reopen),
    (S.closed, A.withdraw),
    (S.withdrawn, A.reopen),
    (S.withdrawn, A.accept),
    (S.escalated, A.answer),
    (S.forwarded, A.answer),
])
def test_forbidden_transitions_raise(source, action):
    with pytest.raises(IllegalTransition):
        transition(source, action)


def test_a_typical_life():
    status = S.received
    for action in (A.accept, A.start, A.request_info, A.info_provided, A.extend, A.answer, A.close):
        status = transition(status, action)
    assert status is S.closed


def test_statuses_arrive_as_strings_from_the_database():
    assert transition("received", "accept") is S.accepted


def test_withdrawal_is_possible_at_every_open_step_and_never_after():
    for status in ItemStatus:
        assert ((status, A.withdraw) in TRANSITIONS) == is_open(status), status


def test_refusing_and_forwarding_need_a_reason():
    assert A.refuse.requires_reason and A.forward.requires_reason and A.extend.requires_reason
    assert not A.accept.requires_reason and not A.withdraw.requires_reason


def test_only_a_first_complaint_escalates_to_a_second():
    assert transition(S.answered, A.escalate, ItemKind.complaint_first) is S.escalated
    assert transition(S.closed, A.escalate, ItemKind.complaint_first) is S.escalated
    for kind in (ItemKind.feedback, ItemKind.complaint_second, ItemKind.denunciation):
        with pytest.raises(IllegalTransition):
            transition(S.answered, A.escalate, kind)
    assert A.escalate not in allowed_actions(S.answered, ItemKind.feedback)
    assert allowed_actions(S.answered, ItemKind.complaint_first) == [A.close, A.reopen, A.escalate]


def test_nothing_moves_a_finished_item():
    assert allowed_actions(S.withdrawn) == [] and allowed_actions(S.escalated) == []


def test_a_complaint_or_denunciation_is_suspended_and_resumed_and_may_be_withdrawn_meanwhile():
    for kind in (ItemKind.complaint_first, ItemKind.complaint_second, ItemKind.denunciation):
        for running in (S.accepted, S.in_progress, S.waiting_info):
            assert transition(running, A.suspend, kind) is S.suspended
        assert transition(S.suspended, A.resume, kind) is S.in_progress
        assert allowed_actions(S.suspended, kind) == [A.resume, A.withdraw]
    assert is_open(S.suspended)
    assert A.suspend.requires_reason and A.resume.requires_reason  # each by a written decision
    for kind in (ItemKind.feedback, ItemKind.information):  # no law suspends a period they do not have
        with pytest.raises(IllegalTransition):
            transition(S.accepted, A.suspend, kind)
    for action in (A.answer, A.extend, A.escalate, A.suspend):  # nothing runs while suspended
        with pytest.raises(IllegalTransition):
            transition(S.suspended, action, ItemKind.complaint_first)


def test_only_a_received_denunciation_has_its_intake_lengthened_for_checks_at_several_places():
    assert transition(S.received, A.extend_intake, ItemKind.denunciation) is S.received
    assert A.extend_intake.requires_reason
    for kind in (ItemKind.feedback, ItemKind.complaint_first, ItemKind.information):
        with pytest.raises(IllegalTransition):
            transition(S.received, A.extend_intake, kind)
    with pytest.raises(IllegalTransition):
        transition(S.accepted, A.extend_intake, ItemKind.denunciation)
