"""What the customer is told, and what the log records, matches what was actually done."""

from __future__ import annotations

import pytest

from cases import services
from tests.cases import WITHIN_WINDOW, later, open_case

NOW = later(WITHIN_WINDOW, hours=1)


@pytest.mark.clause("S0-WINDOW")
def test_it_records_the_decision_a_payout_was_made_under(s0, agent, manager):
    case = services.case_approve(case=open_case(s0), actor=agent, now=NOW)
    paid = services.case_pay(case=case, actor=manager, reference="re_1", now=later(NOW, hours=1))

    pay_event = paid.events.get(transition="pay")
    assert pay_event.decision["outcome"] == "full_refund"
    assert pay_event.decision["clauses"] == ["S0-WINDOW"]
    assert paid.decision == pay_event.decision


def test_it_tells_the_customer_the_agents_reason_when_denying_against_the_policy(
    s0, agent, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.case_deny(case=open_case(s0), actor=agent, reason="abuse",
                           note="This order was paid with a card reported stolen.", now=NOW)

    body = mailoutbox[-1].body
    assert "cannot grant a refund" in body
    assert "paid with a card reported stolen" in body
    assert "refunded in full" not in body


def test_it_tells_the_customer_the_policys_reason_when_the_policy_denies(
    s0, agent, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.case_deny(case=open_case(s0, reason="changed_mind"), actor=agent, reason="policy_exclusion", now=NOW)

    assert "does not cover a change of mind" in mailoutbox[-1].body


def test_it_does_not_promise_a_full_refund_when_approving_less(
    s0, agent, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.case_approve(case=open_case(s0), actor=agent, amount="20.00", note="Goodwill partial.", now=NOW)

    body = mailoutbox[-1].body
    assert "Your refund of 20.00 USD" in body
    assert "in full" not in body
    assert "Goodwill partial." not in body  # staff notes stay internal


def test_it_explains_the_policy_when_approving_what_it_grants(
    s0, agent, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.case_approve(case=open_case(s0), actor=agent, now=NOW)

    assert "within 48 hours of purchase, so it is refunded in full" in mailoutbox[-1].body


@pytest.mark.clause("S0-EVIDENCE", "S1-VERIFY")
def test_it_cites_the_evidence_clause_of_each_storefronts_policy(s0, s1, agent):
    """S0-EVIDENCE and S1-VERIFY: the request is logged under the clause that allows it."""
    for storefront, clause in ((s0, "S0-EVIDENCE"), (s1, "S1-VERIFY")):
        case = services.case_request_evidence(case=open_case(storefront), actor=agent,
                                              message="Please send a screenshot.", now=NOW)
        assert case.events.get(transition="request_evidence").data == {"clauses": [clause]}
