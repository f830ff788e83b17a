"""Assignment, and house behaviour around payouts that the clause tests do not reach."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cases import services
from cases.models import CaseEvent
from cases.services.chargebacks import chargeback_record
from core.errors import CaseActionError, Code
from orders.models import Order
from tests.cases import WITHIN_WINDOW, fresh, later, open_case

NOW = later(WITHIN_WINDOW, hours=1)


def test_it_assigns_a_case_to_someone_who_can_work_it(s0, agent, agent2):
    case = services.case_assign(case=open_case(s0), actor=agent, assignee=agent2, now=NOW)

    assert case.assignee == agent2
    assert case.events.get(kind=CaseEvent.Kind.ASSIGNED).comment == "Assigned to arthur"


def test_it_refuses_to_assign_a_case_to_someone_who_cannot_work_it(s0, agent, outsider):
    case = open_case(s0)

    with pytest.raises(CaseActionError) as refused:
        services.case_assign(case=case, actor=agent, assignee=outsider, now=NOW)

    assert refused.value.code == Code.INVALID_INPUT and "oscar cannot work refund cases" in refused.value.message
    assert fresh(case).assignee is None
    assert not case.events.filter(kind=CaseEvent.Kind.ASSIGNED).exists()


def test_it_keeps_the_chargeback_status_when_a_refund_is_paid_after_it(s1, agent, manager, manager2):
    """The dispute stays the order's headline; the partial refund is still paid within the remainder."""
    case = open_case(s1, delivered_at=None)
    case = services.case_approve(case=case, actor=agent, amount="20.00", now=NOW)
    chargeback_record(order=case.order, actor=manager, amount=Decimal("10.00"), opened_at=NOW, now=NOW)

    services.case_pay(case=case, actor=manager2, reference="re_5", now=later(NOW, hours=1))

    order = Order.objects.get(pk=case.order_id)
    assert order.status == Order.Status.CHARGEBACK
    assert order.refunded_amount == Decimal("20.00")
    assert order.refundable_remainder == order.amount - Decimal("30.00")


@pytest.mark.clause("S0-FIX-FIRST", "S1-DISCRETION")
def test_it_lets_a_manager_approve_a_technical_issue_directly_on_smarters_pro(s1, manager):
    """No S0-FIX-FIRST on smarters-pro: a delivered technical issue is a manager's call (S1-DISCRETION)."""
    case = open_case(s1, reason="technical_issue")

    approved = services.case_approve(case=case, actor=manager, note="Channels list never loaded.", now=NOW)

    assert approved.state == "approved"
    assert approved.decision["clauses"][0] == "S1-DISCRETION"


def test_it_gives_an_unassigned_case_to_whoever_acts_on_it(s0, agent):
    case = services.case_start_fix(case=open_case(s0, reason="technical_issue"), actor=agent, now=NOW)

    assert fresh(case).assignee == agent
    assigned, transition = case.events.order_by("pk")[1:]
    assert (assigned.kind, assigned.actor, assigned.comment) == (
        CaseEvent.Kind.ASSIGNED, agent, "Assigned to alice, who acted on the unassigned case")
    assert (transition.kind, transition.transition) == (CaseEvent.Kind.TRANSITION, "start_fix")


def test_it_keeps_the_assignee_of_an_assigned_case_when_someone_else_acts(s0, agent, agent2):
    case = services.case_assign(case=open_case(s0, reason="technical_issue"), actor=agent, assignee=agent2, now=NOW)

    case = services.case_start_fix(case=case, actor=agent, now=NOW)

    assert fresh(case).assignee == agent2
    assert case.events.filter(kind=CaseEvent.Kind.ASSIGNED).count() == 1


def test_it_leaves_a_case_unassigned_when_the_system_acts(s0, agent):
    from cases.sweeps import sweep_deadlines

    case = services.case_start_fix(case=open_case(s0, reason="technical_issue"), actor=agent, now=NOW)
    services.case_assign(case=case, actor=agent, assignee=None, now=NOW)

    sweep_deadlines(now=later(NOW, hours=49))

    case = fresh(case)
    assert case.state == "requested" and case.assignee is None
