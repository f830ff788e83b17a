"""S1-CHARGEBACK: a chargeback without prior contact suspends and restricts; a manager can lift it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cases import services
from cases.models import CaseEvent
from cases.services.chargebacks import chargeback_lift_sanction, chargeback_record
from core.errors import CaseActionError, Code
from orders.models import Chargeback, Customer, Order, Subscription
from tests.conftest import at, make_order, race

OPENED = at("2026-01-20 09:00")
NOW = at("2026-01-21 12:00")


def record(order: Order, actor, **overrides) -> Chargeback:
    fields = {"amount": order.amount, "opened_at": OPENED, "processor_reference": "dp_1", "now": NOW}
    fields.update(overrides)
    return chargeback_record(order=order, actor=actor, **fields)


def state_of(order: Order) -> tuple:
    order = Order.objects.select_related("customer", "subscription").get(pk=order.pk)
    return (order.status, order.subscription.status, order.customer.restricted_from_ordering,
            order.customer.restriction_reason)


# --- recording ----------------------------------------------------------------------------------


@pytest.mark.clause("S1-CHARGEBACK")
def test_it_sanctions_a_chargeback_without_prior_contact(s1, agent):
    order = make_order(s1)

    chargeback = record(order, agent)

    chargeback.refresh_from_db()
    assert chargeback.sanction_applied and not chargeback.prior_contact
    assert chargeback.suspended_subscription and chargeback.restricted_customer
    assert chargeback.recorded_by == agent and chargeback.amount == Decimal("59.99")
    status, subscription, restricted, reason = state_of(order)
    assert (status, subscription, restricted) == ("chargeback", "suspended", True)
    assert f"#{order.number}" in reason and "dp_1" in reason and "S1-CHARGEBACK" in reason


@pytest.mark.parametrize("then", ["open", "withdrawn"])
def test_it_records_without_sanction_when_the_customer_asked_first(s1, agent, then):
    order = make_order(s1)
    case = services.case_create(order=order, reason="other", requested_at=at("2026-01-19 08:00"),
                                now=at("2026-01-19 08:00"))
    if then == "withdrawn":
        services.case_withdraw(case=case, actor=agent, now=at("2026-01-19 09:00"))

    chargeback = record(order, agent)

    assert chargeback.prior_contact and not chargeback.sanction_applied
    assert not chargeback.suspended_subscription and not chargeback.restricted_customer
    assert state_of(order) == ("chargeback", "active", False, "")


def test_it_counts_a_request_made_at_the_moment_the_chargeback_opened_as_prior_contact(s1, agent):
    order = make_order(s1)
    services.case_create(order=order, reason="other", requested_at=OPENED, now=OPENED)

    assert record(order, agent).prior_contact


def test_it_sanctions_when_the_only_contact_came_after_the_chargeback(s1, agent):
    order = make_order(s1)
    case = services.case_create(order=order, reason="other", requested_at=at("2026-01-20 10:00"),
                                now=at("2026-01-20 10:00"))

    chargeback = record(order, agent)

    assert chargeback.sanction_applied
    event = case.events.get(kind=CaseEvent.Kind.CHARGEBACK)
    assert event.actor == agent and event.visibility == CaseEvent.Visibility.INTERNAL
    assert event.data["chargeback_id"] == chargeback.pk and event.data["sanction_applied"] is True
    assert "subscription suspended, customer restricted" in event.comment
    case.refresh_from_db()
    assert case.flagged and "Chargeback" in case.flag_reason


def test_it_ignores_cases_on_the_customers_other_orders(s1, agent):
    order = make_order(s1, email="same@example.com")
    other = make_order(s1, email="same@example.com")
    services.case_create(order=other, reason="other", requested_at=at("2026-01-10 08:00"),
                         now=at("2026-01-10 08:00"))

    assert record(order, agent).sanction_applied


def test_it_never_sanctions_on_a_storefront_without_the_clause(s0, agent):
    order = make_order(s0)

    chargeback = record(order, agent)

    assert not chargeback.prior_contact and not chargeback.sanction_applied
    assert state_of(order) == ("chargeback", "active", False, "")


def test_it_keeps_an_unrelated_restriction_of_the_customer_as_it_was(s1, agent, manager):
    order = make_order(s1)
    Customer.objects.filter(pk=order.customer_id).update(restricted_from_ordering=True,
                                                         restriction_reason="Fraud check")

    chargeback = record(order, agent)
    chargeback_lift_sanction(chargeback=chargeback, actor=manager, note="Settled.", now=NOW)

    assert chargeback.sanction_applied and not chargeback.restricted_customer
    assert state_of(order)[1:] == ("active", True, "Fraud check")


@pytest.mark.parametrize(
    ("amount", "code", "message"),
    [
        ("0", Code.AMOUNT_INVALID, "greater than zero"),
        ("-5.00", Code.AMOUNT_INVALID, "greater than zero"),
        ("abc", Code.AMOUNT_INVALID, "greater than zero"),
        ("1.234", Code.AMOUNT_INVALID, "two decimals"),
        ("NaN", Code.AMOUNT_INVALID, "greater than zero"),
        ("1e30", Code.AMOUNT_INVALID, "greater than zero"),
        (True, Code.AMOUNT_INVALID, "greater than zero"),
        ("60.00", Code.INVALID_INPUT, "above what the order was paid (59.99 USD)"),
    ],
)
def test_it_refuses_bad_amounts(s1, agent, amount, code, message):
    order = make_order(s1)

    with pytest.raises(CaseActionError) as caught:
        record(order, agent, amount=amount)

    assert caught.value.code == code and message in caught.value.message
    assert not Chargeback.objects.exists()
    assert state_of(order) == ("paid", "active", False, "")


def test_it_accepts_a_partial_chargeback(s1, agent):
    assert record(make_order(s1), agent, amount="10.5").amount == Decimal("10.50")


@pytest.mark.parametrize(
    ("opened_at", "message"),
    [
        (at("2025-12-31 09:00"), "before the purchase"),
        (at("2026-01-22 09:00"), "in the future"),
        (None, "time zone"),
    ],
)
def test_it_refuses_impossible_opening_times(s1, agent, opened_at, message):
    order = make_order(s1)

    with pytest.raises(CaseActionError) as caught:
        record(order, agent, opened_at=opened_at)

    assert caught.value.code == Code.INVALID_INPUT and message in caught.value.message
    assert not Chargeback.objects.exists()


def test_it_refuses_the_same_processor_reference_twice_on_an_order(s1, agent):
    order = make_order(s1)
    record(order, agent)

    with pytest.raises(CaseActionError) as caught:
        record(order, agent, amount="5.00")

    assert caught.value.code == Code.INVALID_INPUT and "dp_1" in caught.value.message
    assert Chargeback.objects.count() == 1


def test_it_refuses_staff_who_may_not_record_chargebacks(s1, outsider):
    order = make_order(s1)

    with pytest.raises(CaseActionError) as caught:
        record(order, outsider)

    assert caught.value.code == Code.NO_PERMISSION
    assert not Chargeback.objects.exists()
    assert state_of(order) == ("paid", "active", False, "")


# --- lifting ------------------------------------------------------------------------------------


def test_it_lets_a_manager_lift_the_sanction_with_a_note(s1, agent, manager):
    order = make_order(s1)
    case = services.case_create(order=order, reason="other", requested_at=at("2026-01-20 10:00"),
                                now=at("2026-01-20 10:00"))
    chargeback = record(order, agent)

    lifted = chargeback_lift_sanction(chargeback=chargeback, actor=manager, note="  Bank dispute withdrawn. ",
                                      now=at("2026-01-25 10:00"))

    lifted.refresh_from_db()
    assert lifted.sanction_lifted_at == at("2026-01-25 10:00")
    assert lifted.sanction_lifted_by == manager
    assert lifted.sanction_lift_note == "Bank dispute withdrawn."
    assert state_of(order) == ("chargeback", "active", False, "")
    events = list(case.events.filter(kind=CaseEvent.Kind.CHARGEBACK).order_by("created_at"))
    assert [e.data["sanction_lifted"] for e in events] == [False, True]
    assert events[1].actor == manager and "Bank dispute withdrawn." in events[1].comment


def test_it_refuses_to_lift_twice(s1, agent, manager, manager2):
    chargeback = record(make_order(s1), agent)
    chargeback_lift_sanction(chargeback=chargeback, actor=manager, note="Settled.", now=at("2026-01-25 10:00"))

    with pytest.raises(CaseActionError) as caught:
        chargeback_lift_sanction(chargeback=chargeback, actor=manager2, note="Again.", now=at("2026-01-26 10:00"))

    assert caught.value.code == Code.INVALID_INPUT
    assert "already lifted on 2026-01-25 10:00 by maria" in caught.value.message
    chargeback.refresh_from_db()
    assert chargeback.sanction_lifted_by == manager and chargeback.sanction_lift_note == "Settled."


def test_it_refuses_an_agent_and_a_missing_note(s1, agent, manager):
    order = make_order(s1)
    chargeback = record(order, agent)

    with pytest.raises(CaseActionError) as by_agent:
        chargeback_lift_sanction(chargeback=chargeback, actor=agent, note="Please.", now=NOW)
    with pytest.raises(CaseActionError) as without_note:
        chargeback_lift_sanction(chargeback=chargeback, actor=manager, note="   ", now=NOW)

    assert by_agent.value.code == Code.NO_PERMISSION and "manager" in by_agent.value.message
    assert without_note.value.code == Code.NOTE_REQUIRED
    chargeback.refresh_from_db()
    assert chargeback.sanction_lifted_at is None
    assert state_of(order)[:3] == ("chargeback", "suspended", True)


def test_it_refuses_to_lift_a_chargeback_that_has_no_sanction(s0, agent, manager):
    chargeback = record(make_order(s0), agent)

    with pytest.raises(CaseActionError) as caught:
        chargeback_lift_sanction(chargeback=chargeback, actor=manager, note="Why not.", now=NOW)

    assert caught.value.code == Code.INVALID_INPUT and "no sanction" in caught.value.message


def test_it_keeps_the_customer_restricted_while_another_sanction_holds(s1, agent, manager):
    first = make_order(s1, email="twice@example.com")
    second = make_order(s1, email="twice@example.com")
    one = record(first, agent, processor_reference="dp_A")
    two = record(second, agent, processor_reference="dp_B", opened_at=at("2026-01-20 11:00"))

    chargeback_lift_sanction(chargeback=one, actor=manager, note="Customer paid back.", now=NOW)

    status, subscription, restricted, reason = state_of(first)
    assert (subscription, restricted) == ("active", True)
    assert "dp_B" in reason and "dp_A" not in reason
    assert Subscription.objects.get(order=second).status == "suspended"

    chargeback_lift_sanction(chargeback=two, actor=manager, note="Also settled.", now=NOW)

    assert state_of(second) == ("chargeback", "active", False, "")


def test_it_reactivates_the_subscription_once_no_sanction_on_the_order_is_left(s1, agent, manager):
    order = make_order(s1)
    one = record(order, agent, amount="20.00", processor_reference="dp_A")
    two = record(order, agent, amount="20.00", processor_reference="dp_B")
    assert (one.suspended_subscription, two.suspended_subscription) == (True, False)

    chargeback_lift_sanction(chargeback=one, actor=manager, note="First settled.", now=NOW)

    assert state_of(order)[1:3] == ("suspended", True)

    chargeback_lift_sanction(chargeback=two, actor=manager, note="Second settled.", now=NOW)

    assert state_of(order)[1:3] == ("active", False)


# --- concurrency --------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_records_a_retried_chargeback_once_when_both_arrive_at_once():
    from orders.models import Storefront
    from tests.conftest import make_user

    order = make_order(Storefront.objects.get(slug="smarters-pro"))
    agent = make_user("alice", "Support agent")
    recorded, refused = race(lambda _: record(order, agent), threads=2)
    outcomes = ["recorded"] * len(recorded) + [error.code for error in refused]

    assert sorted(outcomes) == [Code.INVALID_INPUT, "recorded"]
    assert Chargeback.objects.filter(order=order).count() == 1


@pytest.mark.clause("H-CAP")
def test_it_counts_a_chargeback_against_the_refundable_remainder(s0, agent, manager, manager2):
    """H-CAP: money the bank returned cannot be refunded a second time."""
    order = make_order(s0, amount="60.00")
    case = services.case_create(order=order, reason="other", requested_at=at("2026-01-02 09:00"),
                                now=at("2026-01-02 09:00"))
    case = services.case_approve(case=case, actor=agent, now=at("2026-01-02 10:00"))
    chargeback_record(order=order, actor=manager, amount=Decimal("40.00"), opened_at=at("2026-01-03 10:00"),
                      now=at("2026-01-03 10:00"))
    with pytest.raises(CaseActionError) as refused:
        services.case_pay(case=case, actor=manager2, reference="re_1", now=at("2026-01-04 10:00"))
    assert "H-CAP" in refused.value.message
    order.refresh_from_db()
    assert order.refundable_remainder == Decimal("20.00")
    assert order.refunded_amount == Decimal("0.00")
    fresh = type(case).objects.get(pk=case.pk)
    assert fresh.evaluate(as_of=at("2026-01-04 10:00")).refund_amount == Decimal("20.00")


# --- H-CAP: chargebacks and refunds never exceed what was paid ------------------------------------


def test_it_refuses_a_chargeback_beyond_what_is_left_after_earlier_ones(s1, agent):
    order = make_order(s1)
    record(order, agent, amount="50.00", processor_reference="dp_1")

    with pytest.raises(CaseActionError) as caught:
        record(order, agent, amount="10.00", processor_reference="dp_2")

    assert caught.value.code == Code.INVALID_INPUT and "9.99 USD" in caught.value.message
    order.refresh_from_db()
    assert order.charged_back_amount == Decimal("50.00")
    assert Chargeback.objects.filter(order=order).count() == 1


def test_it_refuses_a_chargeback_of_money_already_refunded(s1, agent):
    order = make_order(s1, refunded="59.99")

    with pytest.raises(CaseActionError) as caught:
        record(order, agent, amount="0.01")

    assert "H-CAP" in caught.value.message
    assert not Chargeback.objects.exists()


def test_it_has_the_database_refuse_chargebacks_and_refunds_above_the_amount(s1):
    from django.db import IntegrityError, transaction

    order = make_order(s1, refunded="30.00")
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(charged_back_amount=Decimal("30.00"))
    order.refresh_from_db()
    assert order.charged_back_amount == Decimal("0.00")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_caps_25_concurrent_chargebacks_at_the_amount_paid():
    from orders.models import Storefront
    from tests.conftest import make_user

    order = make_order(Storefront.objects.get(slug="smarters-pro"))
    agent = make_user("alice", "Support agent")
    recorded, refused = race(lambda i: record(order, agent, processor_reference=f"dp_{i}"), threads=25)

    assert len(recorded) == 1 and len(refused) == 24
    assert {error.code for error in refused} == {Code.INVALID_INPUT}
    order.refresh_from_db()
    assert order.charged_back_amount == Decimal("59.99")
    assert Chargeback.objects.filter(order=order).count() == 1
