from bot.domain.kinds import KIND_FACTS, ItemKind


def test_complaints_and_denunciations_need_a_named_sender():
    for kind in (ItemKind.complaint_first, ItemKind.complaint_second, ItemKind.denunciation):
        assert kind.requires_identity and not kind.may_be_anonymous, kind
    assert "Điều 8" in ItemKind.complaint_first.facts.identity_citation
    assert "Điều 23" in ItemKind.denunciation.facts.identity_citation


def test_only_the_denouncer_is_kept_secret():
    assert [kind for kind in ItemKind if kind.identity_secret] == [ItemKind.denunciation]
    assert "Điều 56" in ItemKind.denunciation.facts.secrecy_citation


def test_feedback_and_anonymous_reports_may_come_without_a_name():
    assert ItemKind.feedback.may_be_anonymous and not ItemKind.feedback.requires_identity
    assert ItemKind.information.may_be_anonymous
    assert ItemKind.information.facts.identity_citation == "Luật Tố cáo 2018, Điều 25"


def test_every_kind_has_its_facts():
    assert set(KIND_FACTS) == set(ItemKind)
