"""A customer who invokes consumer law (S1-STATUTORY): the case waits for a manager, who alone may deny it."""

from __future__ import annotations

import pytest

from cases import services
from cases.models import CaseEvent, RefundCase
from cases.selectors import needs_manager_q
from core.errors import CaseActionError, Code
from tests.cases import WITHIN_WINDOW, fresh, later, open_case

NOW = later(WITHIN_WINDOW, hours=1)
SAID = "Customer cites the EU consumer rights directive."


def claim(case, actor, claimed=True, note=SAID):
    return services.case_set_statutory_claim(case=case, actor=actor, claimed=claimed, note=note, now=NOW)


def queued() -> set[str]:
    return set(RefundCase.objects.filter(needs_manager_q()).values_list("number", flat=True))


@pytest.mark.clause("S1-STATUTORY")
def test_it_puts_a_consumer_law_claim_in_the_managers_queue(s0, agent):
    case = open_case(s0, reason="other")
    assert case.number not in queued()

    case = claim(case, agent)

    assert fresh(case).statutory_claim and fresh(case).needs_manager
    assert queued() == {case.number}
    event = case.events.get(kind=CaseEvent.Kind.STATUTORY_CLAIM)
    assert (event.actor, event.comment, event.data) == (agent, SAID, {"statutory_claim": True})


@pytest.mark.clause("S1-STATUTORY")
def test_it_leaves_the_denial_of_a_claimed_case_to_a_manager(s0, agent, manager):
    case = claim(open_case(s0, reason="changed_mind"), agent)

    with pytest.raises(CaseActionError) as refused:
        services.case_deny(case=case, actor=agent, reason="policy_exclusion", note="Changed their mind.", now=NOW)

    assert refused.value.code == Code.NO_PERMISSION
    assert "decide consumer-law claims" in refused.value.message
    assert fresh(case).state == "requested"
    denied = services.case_deny(case=case, actor=manager, reason="policy_exclusion", note="No statutory right here.", now=NOW)
    assert denied.state == "denied" and denied.number not in queued()


def test_it_lets_only_a_manager_remove_the_claim(s0, agent, manager):
    case = claim(open_case(s0, reason="other"), agent)

    with pytest.raises(CaseActionError) as refused:
        claim(case, agent, claimed=False, note="Mistake")

    assert refused.value.code == Code.NO_PERMISSION and fresh(case).statutory_claim
    cleared = claim(case, manager, claimed=False, note="The customer only asked a question.")
    assert not cleared.statutory_claim and not fresh(case).needs_manager


@pytest.mark.parametrize("note", ["", "   ", "x" * 4001])
def test_it_needs_a_note_of_sensible_length(s0, agent, note):
    case = open_case(s0, reason="other")

    with pytest.raises(CaseActionError):
        claim(case, agent, note=note)

    assert not fresh(case).statutory_claim
    assert not case.events.filter(kind=CaseEvent.Kind.STATUTORY_CLAIM).exists()


def test_it_refuses_a_claim_on_a_decided_case_and_people_who_do_not_work_cases(s0, agent, outsider):
    case = open_case(s0, reason="other")
    with pytest.raises(CaseActionError) as refused:
        claim(case, outsider)
    assert refused.value.code == Code.NO_PERMISSION

    approved = services.case_approve(case=case, actor=agent, now=NOW)
    with pytest.raises(CaseActionError) as refused:
        claim(approved, agent)
    assert refused.value.code == Code.WRONG_STATE and not fresh(case).statutory_claim


def test_it_records_a_repeated_claim_once(s0, agent):
    case = open_case(s0, reason="other")

    claim(case, agent)
    claim(case, agent)

    assert case.events.filter(kind=CaseEvent.Kind.STATUTORY_CLAIM).count() == 1
