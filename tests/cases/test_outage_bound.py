"""S0-OUTAGE's bound through the case services, and S1-USED-ON-DELIVERY before S1-NOT-ELIGIBLE on a case."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cases import services
from cases.models import CaseEvent, RefundCase
from cases.states import State
from core.errors import CaseActionError, Code
from mail.intake import intake_email
from orders.models import Extension
from tests.cases import BEFORE_OUTAGE, PRICE, WITHIN_WINDOW, later
from tests.conftest import at, make_order


def test_it_refuses_more_outage_hours_than_the_order_was_delivered_for_when_opening(s0):
    """Bought 20 minutes before the request, 10,000 outage hours (417 days of extension) cannot be true."""
    asked = at("2026-01-01 10:20")
    order = make_order(s0, purchased_at=at("2026-01-01 10:00"))

    with pytest.raises(CaseActionError) as refused:
        services.case_create(order=order, reason="server_outage", outage_hours="10000", requested_at=asked,
                             now=asked)

    assert refused.value.code == Code.INVALID_INPUT
    assert refused.value.message == (
        "Outage hours: 10000 hours is more than the 0.2 hours between the delivery and the request.")
    assert not RefundCase.objects.exists() and not CaseEvent.objects.exists()


def test_it_accepts_an_outage_as_long_as_the_time_since_delivery(s0):
    order = make_order(s0, purchased_at=at("2026-01-01 10:00"))  # delivered 10:05
    asked = at("2026-01-04 10:05")

    case = services.case_create(order=order, reason="server_outage", outage_hours="72", requested_at=asked,
                                now=asked)

    assert (case.decision["outcome"], case.decision["extension_days"]) == ("refund_or_extension", 3)


def test_it_refuses_outage_hours_beyond_the_bound_when_setting_the_reason(s0, agent):
    order = make_order(s0, email="kim@example.com")
    case = intake_email(storefront=s0, sender="kim@example.com", subject="Refund Request",
                        body=f"Order {order.number}: nothing works.", received_at=WITHIN_WINDOW).case

    with pytest.raises(CaseActionError) as refused:
        services.case_set_reason(case=case, actor=agent, reason="server_outage", outage_hours="60",
                                 now=later(WITHIN_WINDOW, hours=1))

    assert refused.value.code == Code.INVALID_INPUT
    assert "more than the 22.9 hours between the delivery and the request" in refused.value.message
    case.refresh_from_db()
    assert (case.reason, case.outage_hours, case.reason_confirmed) == ("other", 0, False)
    assert not case.events.filter(kind=CaseEvent.Kind.REASON).exists()


def test_it_refuses_any_outage_on_a_never_delivered_order_when_setting_the_reason(s0, agent):
    order = make_order(s0, email="kim@example.com", delivered_at=None)
    case = intake_email(storefront=s0, sender="kim@example.com", subject="Refund Request",
                        body=f"Order {order.number}: no access.", received_at=WITHIN_WINDOW).case

    with pytest.raises(CaseActionError, match="never delivered, so it had no outage"):
        services.case_set_reason(case=case, actor=agent, reason="server_outage", outage_hours="1",
                                 now=later(WITHIN_WINDOW, hours=1))


def test_it_extends_only_by_the_days_the_customer_had_the_service_s0_outage(s0, agent):
    """A delivery moved later after the case opened: the engine's cap, not the stored hours, gives the days."""
    order = make_order(s0, purchased_at=BEFORE_OUTAGE)
    case = services.case_create(order=order, reason="server_outage", outage_hours="100", requested_at=WITHIN_WINDOW,
                                now=WITHIN_WINDOW)
    assert case.decision["extension_days"] == 5
    order.subscription.delivered_at = WITHIN_WINDOW - timedelta(hours=72)
    order.subscription.save()

    extended = services.case_extend(case=case, actor=agent, now=later(WITHIN_WINDOW, hours=1))

    assert Extension.objects.get(case=extended).lost_days == 3


def test_it_refunds_a_never_delivered_change_of_mind_in_full_through_a_case_s1_used_on_delivery(s1, agent):
    order = make_order(s1, delivered_at=None)
    case = services.case_create(order=order, reason="changed_mind", requested_at=WITHIN_WINDOW, now=WITHIN_WINDOW)
    assert (case.decision["outcome"], case.decision["clauses"]) == ("full_refund", ["S1-USED-ON-DELIVERY"])

    approved = services.case_approve(case=case, actor=agent, now=later(WITHIN_WINDOW, hours=1))

    assert (approved.state, approved.approved_amount) == (State.APPROVED, PRICE)
