"""The case page: the live decision, every action with why it is blocked, the order at a glance."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cases import services
from cases.models import CaseEvent
from tests.admin.conftest import case_url, client_for, open_case


def blocked_reason(response, action: str) -> str:
    """The text shown next to a blocked action, read from the rendered options."""
    for option in response.context["blocked"] + response.context["not_in_state"]:
        if option.name == action:
            return option.error.message
    raise AssertionError(f"{action} is not listed as blocked")


def available(response) -> list[str]:
    return [card.option.name for card in response.context["actions"]]


@pytest.mark.clause("S0-WINDOW")
def test_it_renders_the_case_page_for_agent_and_manager(s0, agent, manager):
    case = open_case(s0, reason="other", description="It does not work at all.")
    for user in (agent, manager):
        response = client_for(user).get(case_url(case))
        assert response.status_code == 200
        html = response.content.decode()
        assert case.number in html
        assert "It does not work at all." in html
        assert 'id="decision-panel"' in html
        assert "S0-WINDOW" in html


def test_it_shows_the_live_decision_with_clause_texts_and_arrival_window(s0, agent):
    case = open_case(s0, reason="other", order_kwargs={"amount": "59.99", "payment_method": "card"})
    response = client_for(agent).get(case_url(case))
    decision = response.context["decision"]
    assert decision.outcome == "full_refund"
    html = response.content.decode()
    assert "59.99 USD" in html
    assert "Full refund" in html
    # The clause's own text from the Clause table, not just its ID.
    assert "Refunds must be requested within 48 h of purchase" in html
    assert "20–31 business days" in html
    assert f"version {decision.policy_version}" in html


@pytest.mark.clause("S0-FIX-FIRST")
def test_it_explains_that_a_technical_issue_needs_a_fix_attempt_before_approval(s0, agent):
    case = open_case(s0, reason="technical_issue")
    response = client_for(agent).get(case_url(case))
    assert "approve" not in available(response)
    assert "start_fix" in available(response)
    reason = blocked_reason(response, "approve")
    assert "S0-FIX-FIRST" in reason
    assert reason in response.content.decode()


@pytest.mark.clause("S1-DISCRETION")
def test_it_tells_an_agent_that_a_delivered_s1_case_is_for_a_manager(s1, agent, manager):
    case = open_case(s1, reason="other", order_kwargs={"purchased_at": None})
    response = client_for(agent).get(case_url(case))
    reason = blocked_reason(response, "approve")
    assert "manager" in reason and "S1-DISCRETION" in reason
    assert "approve" in available(client_for(manager).get(case_url(case)))


@pytest.mark.clause("H-FOUR-EYES")
def test_it_shows_the_approver_that_pay_is_blocked_by_four_eyes(s0, manager, manager2):
    case = open_case(s0, reason="other")
    services.case_approve(case=case, actor=manager)
    response = client_for(manager).get(case_url(case))
    assert "pay" not in available(response)
    assert "H-FOUR-EYES" in blocked_reason(response, "pay")
    assert "pay" in available(client_for(manager2).get(case_url(case)))


def test_it_lists_every_staff_transition_once_and_never_the_system_ones(s0, agent):
    case = open_case(s0, reason="technical_issue")
    response = client_for(agent).get(case_url(case))
    listed = available(response) + [o.name for o in response.context["blocked"] + response.context["not_in_state"]]
    assert sorted(listed) == sorted([
        "start_fix", "fix_succeeded", "fix_failed", "request_evidence", "evidence_received", "approve",
        "approve_statutory", "extend", "deny", "withdraw", "pay", "reopen",
    ])
    html = response.content.decode()
    assert "fix_window_expired" not in html and "evidence_expired" not in html
    # Wrong-state actions say so in words.
    assert "not possible while the case is requested" in blocked_reason(response, "pay")


def test_it_shows_the_order_and_subscription_at_a_glance(s0, agent, manager):
    case = open_case(s0, reason="other", order_kwargs={"amount": "30.00", "refunded": "5.00",
                                                       "payment_method": "paypal", "months": 1})
    html = client_for(agent).get(case_url(case)).content.decode()
    glance = html[html.index('id="order-glance"'):]
    for text in ("30.00 USD", "5.00 USD", "25.00 USD", "PayPal", "Active"):
        assert text in glance
    assert "Period ends" in glance and "not delivered" not in glance


def test_it_shows_the_timeline_with_transitions_actors_and_decision_snapshots(s0, agent, manager):
    case = open_case(s0, reason="other")
    services.case_comment(case=case, actor=agent, comment="Called the customer.")
    services.case_approve(case=case, actor=agent, note="Within the window.")
    html = client_for(manager).get(case_url(case)).content.decode()
    timeline = html[html.index('id="timeline"'):]
    assert "Called the customer." in timeline
    assert "Requested → Approved" in timeline
    assert "alice" in timeline
    assert "Internal" in timeline and "Customer-visible" in timeline
    assert "Decision: Full refund" in timeline
    assert "Assigned to alice, who acted on the unassigned case" in timeline
    assert CaseEvent.objects.filter(case=case).count() == 4


def test_it_never_offers_a_field_edit_and_ignores_a_stray_post(s0, manager):
    case = open_case(s0, reason="other")
    before = case.updated_at
    client = client_for(manager)
    response = client.get(case_url(case))
    assert response.context["adminform"].form.fields == {}
    response = client.post(case_url(case), {"state": "paid", "approved_amount": "10.00"}, follow=True)
    assert response.status_code == 200
    case.refresh_from_db()
    assert case.state == "requested" and case.approved_amount is None and case.updated_at == before


def test_it_shows_the_decision_amount_as_the_approve_forms_default(s0, agent):
    case = open_case(s0, reason="other", order_kwargs={"amount": "12.34"})
    response = client_for(agent).get(case_url(case))
    form = next(card.form for card in response.context["actions"] if card.option.name == "approve")
    assert form["amount"].value() == Decimal("12.34")


def test_it_forbids_the_case_page_to_staff_without_case_permissions(s0, outsider):
    case = open_case(s0, reason="other")
    assert client_for(outsider).get(case_url(case)).status_code == 403


def test_it_marks_a_consumer_law_claim_from_the_case_page_and_blocks_the_agents_denial(s0, agent, manager):
    case = open_case(s0, reason="changed_mind")
    agent_client = client_for(agent)
    url = case_url(case, "statutory")

    response = agent_client.post(url, {"claimed": "True", "note": "Cites the consumer rights act."}, follow=True)

    html = response.content.decode()
    assert "waits for a manager: the customer invokes consumer law" in html
    assert 'id="statutory-claim"' in html
    assert "Remove the consumer-law claim" not in html  # the agent may not take it back
    deny = next(o for o in response.context["blocked"] if o.name == "deny")
    assert "decide consumer-law claims" in deny.error.message
    manager_page = client_for(manager).get(case_url(case)).content.decode()
    assert "Remove the consumer-law claim" in manager_page


def test_it_refuses_a_consumer_law_claim_without_a_note_and_keeps_the_case_as_it_was(s0, agent):
    case = open_case(s0, reason="other")

    response = client_for(agent).post(case_url(case, "statutory"),
                                      {"claimed": "True", "note": ""}, follow=True)

    assert "What the customer said: This field is required." in response.content.decode()
    case.refresh_from_db()
    assert not case.statutory_claim


@pytest.mark.parametrize("reason", ["other", "changed_mind", "technical_issue"])
def test_it_cites_no_clause_of_another_storefront_on_a_case(s0, manager, reason):
    case = open_case(s0, reason=reason)
    services.case_comment(case=case, actor=manager, comment="Checked.")
    html = client_for(manager).get(case_url(case)).content.decode()
    assert "S0-" in html  # its own clauses are cited
    assert "S1-" not in html  # blocked reasons, help texts and history alike
