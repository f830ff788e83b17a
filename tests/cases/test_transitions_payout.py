"""Paying approved refunds: H-FOUR-EYES, H-CAP, H-DUPLICATE, S1-SAME-METHOD, S0-ARRIVAL, S1-ARRIVAL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum

from cases import services
from cases.models import Payout
from cases.states import State
from core.errors import Code
from orders.models import Order
from tests.cases import PRICE, WITHIN_WINDOW, assert_refused, fresh, last_event, later, mail_names, open_case
from tests.conftest import at

APPROVED_AT = later(WITHIN_WINDOW, hours=1)
MONDAY = at("2026-01-05 10:00")
FRIDAY = at("2026-01-09 10:00")


def approved_case(storefront, approver, **case_fields):
    case = open_case(storefront, **case_fields)
    return services.case_approve(case=case, actor=approver, now=APPROVED_AT)


# --- H-FOUR-EYES ----------------------------------------------------------------------------


@pytest.mark.clause("H-FOUR-EYES")
def test_it_refuses_the_approver_as_payer(s0, manager):
    case = approved_case(s0, manager)

    error = assert_refused(lambda: services.case_pay(case=case, actor=manager, reference="re_1", now=MONDAY), case,
                           Code.FOUR_EYES)

    assert "H-FOUR-EYES" in error.message


@pytest.mark.parametrize("payer", ["agent", "agent2", "outsider"])
def test_it_refuses_a_payer_without_the_pay_permission(s0, manager, payer, request):
    case = approved_case(s0, manager)
    actor = request.getfixturevalue(payer)

    error = assert_refused(lambda: services.case_pay(case=case, actor=actor, reference="re_1", now=MONDAY), case,
                           Code.NO_PERMISSION)

    assert error.message == "You do not have the permission for this action (mark refunds paid)."


@pytest.mark.parametrize("approver", ["agent", "manager"])
def test_it_lets_another_manager_pay(s0, manager2, approver, request, mailoutbox, django_capture_on_commit_callbacks):
    case = approved_case(s0, request.getfixturevalue(approver))

    with django_capture_on_commit_callbacks(execute=True):
        paid = services.case_pay(case=case, actor=manager2, reference=" re_42 ", now=MONDAY)

    assert paid.state == State.PAID
    assert paid.resolution == "refunded"
    payout = Payout.objects.get(case=case)
    assert (payout.amount, payout.currency, payout.reference, payout.paid_by) == (PRICE, "USD", "re_42", manager2)
    assert payout.paid_at == MONDAY
    order = Order.objects.get(pk=case.order_id)
    assert (order.refunded_amount, order.status) == (PRICE, Order.Status.REFUNDED)
    event = last_event(paid)
    assert (event.transition, event.from_state, event.to_state, event.actor) == (
        "pay", State.APPROVED, State.PAID, manager2)
    assert event.data["reference"] == "re_42"
    assert mail_names(mailoutbox) == ["Your refund has been sent"]


def test_it_lets_the_approver_pay_when_the_storefront_switched_four_eyes_off(s0, manager):
    s0.four_eyes = False
    s0.save(update_fields=["four_eyes"])
    case = approved_case(s0, manager)

    paid = services.case_pay(case=case, actor=manager, reference="re_1", now=MONDAY)

    assert paid.state == State.PAID
    assert paid.payout.paid_by == paid.approved_by == manager
    assert last_event(paid).data["four_eyes"] == "switched off on this storefront; the approver paid it themselves"


def test_it_still_refuses_an_agent_when_four_eyes_is_off(s0, agent):
    s0.four_eyes = False
    s0.save(update_fields=["four_eyes"])
    case = approved_case(s0, agent)

    assert_refused(lambda: services.case_pay(case=case, actor=agent, reference="re_1", now=MONDAY), case,
                   Code.NO_PERMISSION)


# --- payout input ---------------------------------------------------------------------------


@pytest.mark.parametrize("reference", ["", "   ", None])
def test_it_needs_a_reference(s0, agent, manager, reference):
    case = approved_case(s0, agent)

    error = assert_refused(lambda: services.case_pay(case=case, actor=manager, reference=reference, now=MONDAY),
                           case, Code.REFERENCE_REQUIRED)

    assert error.message == "The payout reference is required."


@pytest.mark.parametrize(("fields", "message"), [
    ({"reference": "r" * 121}, "The payout reference is too long (120 characters at most)."),
    ({"reference": "re_1", "method": "gold_bars", "method_note": "x"}, "Unknown payout method 'gold_bars'."),
])
def test_it_refuses_a_bad_payout_input(s0, agent, manager, fields, message):
    case = approved_case(s0, agent)

    error = assert_refused(lambda: services.case_pay(case=case, actor=manager, now=MONDAY, **fields), case,
                           Code.INVALID_INPUT)

    assert error.message == message


# --- S1-SAME-METHOD -------------------------------------------------------------------------


def test_it_pays_to_the_original_method_by_default(s1, agent, manager):
    case = approved_case(s1, agent, delivered_at=None, payment_method="paypal")

    paid = services.case_pay(case=case, actor=manager, reference="re_1", now=MONDAY)

    assert (paid.payout.method, paid.payout.method_note) == ("paypal", "")


@pytest.mark.clause("S1-SAME-METHOD")
def test_it_needs_a_note_for_another_payout_method(s1, agent, manager):
    case = approved_case(s1, agent, delivered_at=None, payment_method="card")

    error = assert_refused(lambda: services.case_pay(case=case, actor=manager, reference="re_1", method="paypal",
                                                     method_note="  ", now=MONDAY), case, Code.NOTE_REQUIRED)
    paid = services.case_pay(case=case, actor=manager, reference="re_1", method="paypal",
                             method_note=" The card was cancelled ", now=MONDAY)

    assert "S1-SAME-METHOD" in error.message
    assert (paid.payout.method, paid.payout.method_note) == ("paypal", "The card was cancelled")
    assert last_event(paid).data["method"] == "paypal"


def test_it_needs_no_note_when_the_named_method_is_the_original_one(s1, agent, manager):
    case = approved_case(s1, agent, delivered_at=None, payment_method="card")

    paid = services.case_pay(case=case, actor=manager, reference="re_1", method="card", now=MONDAY)

    assert paid.payout.method == "card"


# --- S0-ARRIVAL / S1-ARRIVAL ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("storefront", "method", "paid_at", "window", "expected_by", "worst_by"),
    [
        # Monday + 31 business days = Tuesday of the 7th week; + 90 = Monday 18 weeks on.
        ("s0", "card", MONDAY, (20, 31, 90), date(2026, 2, 17), date(2026, 5, 11)),
        ("s0", "paypal", MONDAY, (20, 90, 90), date(2026, 5, 11), date(2026, 5, 11)),
        ("s0", "crypto", FRIDAY, (20, 90, 90), date(2026, 5, 15), date(2026, 5, 15)),
        # Friday + 10 business days = the Friday two weeks on; weekends never count.
        ("s1", "card", FRIDAY, (3, 10, 10), date(2026, 1, 23), date(2026, 1, 23)),
        ("s1", "bank_transfer", at("2026-01-10 10:00"), (3, 10, 10), date(2026, 1, 23), date(2026, 1, 23)),
    ],
)
def test_it_records_the_expected_arrival_in_business_days(
    request, agent, manager, storefront, method, paid_at, window, expected_by, worst_by
):
    case = approved_case(request.getfixturevalue(storefront), agent, delivered_at=None, payment_method=method)

    paid = services.case_pay(case=case, actor=manager, reference="re_1", now=paid_at)

    payout = paid.payout
    assert (payout.arrival_min_days, payout.arrival_max_days, payout.arrival_worst_days) == window
    assert (payout.expected_by, payout.expected_worst_by) == (expected_by, worst_by)
    assert last_event(paid).data["arrival_business_days"] == dict(zip(("min", "max", "worst"), window))


def test_it_mails_the_arrival_window(s0, agent, manager, mailoutbox, django_capture_on_commit_callbacks):
    case = approved_case(s0, agent)

    with django_capture_on_commit_callbacks(execute=True):
        services.case_pay(case=case, actor=manager, reference="re_1", now=MONDAY)

    body = mailoutbox[0].body
    assert "It should reach your account by 17 February 2026; with some banks it can take until 11 May 2026." in body
    assert "Card refunds take 20–31 business days, up to 90; processor refunds 20–90 business days" in body
    assert "We cannot accelerate the processor" in body


# --- H-CAP ----------------------------------------------------------------------------------


def test_it_caps_the_approval_at_the_remainder(s0, agent, manager):
    case = open_case(s0, refunded="50.00")
    assert case.decision["refund_amount"] == "9.99"

    error = assert_refused(lambda: services.case_approve(case=case, actor=agent, amount="10.00", now=APPROVED_AT),
                           case, Code.AMOUNT_ABOVE_DECISION)
    approved = services.case_approve(case=case, actor=agent, now=APPROVED_AT)
    paid = services.case_pay(case=approved, actor=manager, reference="re_1", now=MONDAY)

    assert "9.99 USD" in error.message
    assert paid.payout.amount == Decimal("9.99")
    order = Order.objects.get(pk=case.order_id)
    assert (order.refunded_amount, order.status) == (PRICE, Order.Status.REFUNDED)


@pytest.mark.clause("H-CAP")
def test_it_refuses_a_payout_the_remainder_no_longer_covers(s0, agent, manager):
    case = approved_case(s0, agent)
    # A refund recorded on the order since the approval (e.g. by the processor's import).
    Order.objects.filter(pk=case.order_id).update(refunded_amount=Decimal("10.00"))

    error = assert_refused(lambda: services.case_pay(case=case, actor=manager, reference="re_1", now=MONDAY), case,
                           Code.POLICY_BLOCKS)

    assert error.message == ("The order's refundable remainder (49.99 USD) is less than the approved amount "
                             "(H-CAP).")


@pytest.mark.clause("H-CAP")
def test_it_only_denies_a_case_with_nothing_left(s1, agent, manager):
    case = open_case(s1, reason="duplicate_payment", refunded=PRICE)
    assert case.decision["outcome"] == "deny" and case.decision["clauses"] == ["H-CAP"]

    for actor in (agent, manager):
        error = assert_refused(lambda: services.case_approve(case=case, actor=actor, note="x", now=APPROVED_AT),
                               case, Code.POLICY_BLOCKS)
        assert "H-CAP" in error.message
    assert_refused(lambda: services.case_approve_statutory(case=case, actor=manager, amount="0.01", basis="law",
                                                           now=APPROVED_AT), case, Code.AMOUNT_ABOVE_REMAINDER)
    denied = services.case_deny(case=case, actor=agent, reason="nothing_left", now=APPROVED_AT)

    assert denied.state == State.DENIED
    assert last_event(denied).data["clauses"] == ["H-CAP"]


def test_it_keeps_the_order_total_equal_to_its_payouts_over_several_cases(s0, agent, manager):
    first = open_case(s0, requested_at=at("2026-01-10 10:00"))
    first = services.case_approve(case=first, actor=agent, amount="20.00", now=at("2026-01-10 11:00"))
    services.case_pay(case=first, actor=manager, reference="re_1", now=at("2026-01-12 10:00"))
    assert Order.objects.get(pk=first.order_id).status == Order.Status.PARTIALLY_REFUNDED

    second = open_case(s0, order=first.order, reason="duplicate_payment", requested_at=at("2026-01-13 10:00"))
    assert_refused(lambda: services.case_approve(case=second, actor=agent, amount="40.00",
                                                 now=at("2026-01-13 11:00")), second, Code.AMOUNT_ABOVE_DECISION)
    second = services.case_approve(case=second, actor=agent, now=at("2026-01-13 11:00"))
    services.case_pay(case=second, actor=manager, reference="re_2", now=at("2026-01-14 10:00"))

    order = Order.objects.get(pk=first.order_id)
    assert second.approved_amount == Decimal("39.99")
    assert order.refunded_amount == order.amount == order.payouts.aggregate(total=Sum("amount"))["total"]
    assert order.status == Order.Status.REFUNDED


# --- H-DUPLICATE ----------------------------------------------------------------------------


@pytest.mark.clause("H-DUPLICATE")
def test_it_refunds_a_duplicate_charge_in_full_whatever_the_dates(s0, agent):
    case = open_case(s0, reason="duplicate_payment", requested_at=at("2026-03-20 10:00"))

    approved = services.case_approve(case=case, actor=agent, now=at("2026-03-20 11:00"))

    assert approved.approved_amount == PRICE
    assert approved.decision["clauses"] == ["H-DUPLICATE"]


def test_it_keeps_a_paid_case_closed(s0, agent, manager, manager2):
    case = approved_case(s0, agent)
    paid = services.case_pay(case=case, actor=manager, reference="re_1", now=MONDAY)

    error = assert_refused(lambda: services.case_pay(case=fresh(paid), actor=manager2, reference="re_2",
                                                     now=MONDAY), paid, Code.WRONG_STATE)

    assert error.message == "This action is not possible while the case is paid."
    assert Payout.objects.filter(case=case).count() == 1
