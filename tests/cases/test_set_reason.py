"""Requests without a reason code (e-mail) are not refunded until an agent sets the reason."""

from __future__ import annotations

import pytest

from cases import services
from cases.models import CaseEvent
from core.errors import CaseActionError, Code
from mail.intake import intake_email
from tests.cases import BEFORE_OUTAGE, WITHIN_WINDOW, fresh, later
from tests.conftest import make_order

NOW = later(WITHIN_WINDOW, hours=1)


def emailed_case(storefront, **order_fields):
    order = make_order(storefront, email="kim@example.com", **order_fields)
    return intake_email(storefront=storefront, sender="kim@example.com", subject="Refund Request",
                        body=f"Order {order.number}: I changed my mind.", received_at=WITHIN_WINDOW).case


def test_it_blocks_approving_an_emailed_request_until_the_reason_is_set(s0, agent):
    case = emailed_case(s0)
    assert case.reason == "other" and not case.reason_confirmed

    with pytest.raises(CaseActionError) as refused:
        services.case_approve(case=case, actor=agent, now=NOW)
    assert refused.value.code == Code.POLICY_BLOCKS
    assert "Confirm the reason first" in refused.value.message
    assert fresh(case).state == "requested"


@pytest.mark.clause("S0-NO-CHANGE")
def test_it_judges_the_case_by_the_reason_the_agent_sets(s0, agent):
    """S0-NO-CHANGE reaches e-mailed requests once their reason is known."""
    case = services.case_set_reason(case=emailed_case(s0), actor=agent, reason="changed_mind",
                                    note="Customer says they changed their mind.", now=NOW)

    assert case.reason_confirmed
    assert case.decision["outcome"] == "deny" and case.decision["clauses"] == ["S0-NO-CHANGE"]
    event = case.events.get(kind=CaseEvent.Kind.REASON)
    assert event.data["from"]["reason"] == "other" and event.data["to"]["reason"] == "changed_mind"
    assert event.decision["clauses"] == ["S0-NO-CHANGE"]
    with pytest.raises(CaseActionError) as refused:
        services.case_approve(case=case, actor=agent, now=NOW)
    assert "S0-NO-CHANGE" in refused.value.message


@pytest.mark.clause("S0-WINDOW")
def test_it_refunds_once_the_agent_confirms_other(s0, agent):
    case = services.case_set_reason(case=emailed_case(s0), actor=agent, reason="other", now=NOW)

    approved = services.case_approve(case=case, actor=agent, now=later(NOW, minutes=5))
    assert approved.state == "approved"
    assert approved.decision["clauses"] == ["S0-WINDOW"]


@pytest.mark.clause("S0-OUTAGE")
def test_it_sets_the_outage_hours_with_the_reason(s0, agent):
    """S0-OUTAGE needs the hours: an e-mailed outage becomes a refund-or-extension decision."""
    case = services.case_set_reason(case=emailed_case(s0, purchased_at=BEFORE_OUTAGE), actor=agent,
                                    reason="server_outage", outage_hours="60", now=NOW)

    assert case.decision["outcome"] == "refund_or_extension" and case.decision["extension_days"] == 3


@pytest.mark.parametrize(("fields", "code"), [
    ({"reason": "bogus"}, Code.INVALID_INPUT),
    ({"reason": "server_outage", "outage_hours": "lots"}, Code.INVALID_INPUT),
])
def test_it_refuses_bad_input_and_changes_nothing(s0, agent, fields, code):
    case = emailed_case(s0)
    events = case.events.count()

    with pytest.raises(CaseActionError) as refused:
        services.case_set_reason(case=case, actor=agent, now=NOW, **fields)

    assert refused.value.code == code
    assert fresh(case).reason == "other" and not fresh(case).reason_confirmed
    assert case.events.count() == events


def test_it_refuses_outsiders_and_decided_cases(s0, agent, outsider):
    case = emailed_case(s0)
    with pytest.raises(CaseActionError) as refused:
        services.case_set_reason(case=case, actor=outsider, reason="other", now=NOW)
    assert refused.value.code == Code.NO_PERMISSION

    case = services.case_set_reason(case=case, actor=agent, reason="other", now=NOW)
    case = services.case_approve(case=case, actor=agent, now=NOW)
    with pytest.raises(CaseActionError) as refused:
        services.case_set_reason(case=case, actor=agent, reason="changed_mind", now=NOW)
    assert refused.value.code == Code.WRONG_STATE
    assert fresh(case).reason == "other"
