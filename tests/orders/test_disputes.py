"""Processor disputes recorded as chargebacks (S1-CHARGEBACK), once each, and closed won or lost."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cases import services
from cases.models import CaseEvent
from cases.services.chargebacks import chargeback_lift_sanction, chargeback_record, dispute_close, dispute_record
from core.errors import CaseActionError, Code
from orders.disputes import DisputeReason, reason_words
from orders.models import Chargeback, Customer, Order, Subscription
from tests.conftest import at, make_order, race

OPENED = at("2026-01-20 09:00")
DUE = at("2026-02-03 23:59")
NOW = at("2026-01-21 12:00")


def dispute(order: Order, **overrides) -> Chargeback:
    fields = {"dispute_id": "dp_1", "amount": Decimal(order.amount), "currency": order.currency.lower(),
              "reason": "product_not_received", "due_by": DUE, "opened_at": OPENED, "now": NOW}
    fields.update(overrides)
    return dispute_record(order=order, **fields)


def state_of(order: Order) -> tuple:
    order = Order.objects.select_related("customer", "subscription").get(pk=order.pk)
    return (order.status, order.subscription.status, order.customer.restricted_from_ordering,
            order.charged_back_amount)


@pytest.mark.clause("S1-CHARGEBACK")
def test_it_records_a_dispute_with_the_sanction_a_typed_in_chargeback_gets(s1):
    order = make_order(s1)

    chargeback = dispute(order)

    chargeback.refresh_from_db()
    assert (chargeback.dispute_id, chargeback.processor_reference) == ("dp_1", "dp_1")
    assert (chargeback.reason, chargeback.evidence_due_by, chargeback.status) == ("product_not_received", DUE, "open")
    assert chargeback.closed_at is None and chargeback.recorded_by is None
    assert chargeback.sanction_applied and chargeback.suspended_subscription and chargeback.restricted_customer
    assert state_of(order) == ("chargeback", "suspended", True, Decimal("59.99"))
    assert "dp_1" in Customer.objects.get(pk=order.customer_id).restriction_reason


def test_it_records_no_sanction_when_the_customer_asked_first_and_notes_the_dispute_on_the_case(s1):
    order = make_order(s1)
    case = services.case_create(order=order, reason="other", requested_at=at("2026-01-19 08:00"),
                                now=at("2026-01-19 08:00"))

    chargeback = dispute(order, reason="fraudulent")

    assert chargeback.prior_contact and not chargeback.sanction_applied
    assert state_of(order) == ("chargeback", "active", False, Decimal("59.99"))
    event = case.events.get(kind=CaseEvent.Kind.CHARGEBACK)
    assert event.actor is None and event.actor_label == "payment processor"
    assert event.visibility == CaseEvent.Visibility.INTERNAL
    assert event.data["dispute_id"] == "dp_1" and event.data["reason"] == "fraudulent"
    assert "did not make this payment" in event.comment and "fraudulent" not in event.comment
    assert "Evidence due by 3 Feb 2026" in event.comment


def test_it_never_sanctions_a_dispute_on_a_storefront_without_the_clause(s0):
    chargeback = dispute(make_order(s0))

    assert not chargeback.sanction_applied and chargeback.status == "open"


def test_it_returns_the_recorded_chargeback_when_the_event_is_replayed(s1):
    order = make_order(s1)
    first = dispute(order)

    again = dispute(order, now=at("2026-01-25 12:00"))

    assert again.pk == first.pk
    assert Chargeback.objects.count() == 1
    assert state_of(order)[3] == Decimal("59.99")  # H-CAP counted once


def test_it_gives_a_typed_in_chargeback_the_details_of_its_dispute(s1, agent):
    order = make_order(s1)
    typed = chargeback_record(order=order, actor=agent, amount="59.99", opened_at=OPENED,
                              processor_reference="dp_1", now=NOW)

    chargeback = dispute(order)

    assert chargeback.pk == typed.pk and chargeback.recorded_by == agent
    assert (chargeback.dispute_id, chargeback.reason, chargeback.status) == ("dp_1", "product_not_received", "open")
    assert Chargeback.objects.count() == 1 and state_of(order)[3] == Decimal("59.99")


def test_it_refuses_to_type_in_a_dispute_the_processor_already_recorded(s1, agent):
    order = make_order(s1)
    dispute(order, amount="20.00")

    with pytest.raises(CaseActionError) as caught:
        chargeback_record(order=order, actor=agent, amount="20.00", opened_at=OPENED, processor_reference="dp_1",
                          now=NOW)

    assert "dp_1 is already recorded" in caught.value.message
    assert Chargeback.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"dispute_id": "  "}, "no ID"),
        ({"dispute_id": "dp_" + "x" * 200}, "too long"),
        ({"amount": 5999}, "not the number 5999"),
        ({"amount": 59.99}, "currency's units"),
        ({"currency": "eur"}, "in eur, but order"),
        ({"due_by": at("2026-02-03 23:59").replace(tzinfo=None)}, "time zone"),
        ({"amount": "60.00"}, "above what the order was paid"),
        ({"opened_at": at("2025-12-01 00:00")}, "before the purchase"),
    ],
)
def test_it_refuses_a_dispute_it_cannot_record_and_writes_nothing(s1, overrides, message):
    order = make_order(s1)

    with pytest.raises(CaseActionError) as caught:
        dispute(order, **overrides)

    assert message in caught.value.message
    assert not Chargeback.objects.exists()
    assert state_of(order) == ("paid", "active", False, Decimal("0.00"))


def test_it_refuses_a_dispute_beyond_what_is_left_after_refunds(s1):
    order = make_order(s1, refunded="50.00")

    with pytest.raises(CaseActionError) as caught:
        dispute(order)

    assert "H-CAP" in caught.value.message and "9.99 USD" in caught.value.message
    assert not Chargeback.objects.exists()


def test_it_keeps_a_reason_code_it_does_not_know_and_says_so_in_words(s1):
    chargeback = dispute(make_order(s1), reason="  Brand_New_Code ")

    assert chargeback.reason == "brand_new_code"
    assert chargeback.reason_words == "A reason the bank gave that this back office does not know yet"


def test_it_has_words_for_every_reason_and_never_the_code():
    for code in DisputeReason.values:
        words = reason_words(code)
        assert code not in words and words[0].isupper()
    assert {"fraudulent", "product_not_received", "subscription_canceled", "duplicate", "credit_not_processed",
            "general", "unrecognized", "product_unacceptable"} <= set(DisputeReason.values)


# --- closing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("won", "status"),
    [(True, "won"), (False, "lost"), ("won", "won"), ("lost", "lost"), ("warning_closed", "closed_other"),
     ("prevented", "closed_other"), ("closed_other", "closed_other")],
)
def test_it_records_how_a_dispute_closed(s1, won, status):
    order = make_order(s1)
    dispute(order)

    closed = dispute_close(dispute_id="dp_1", won=won, now=at("2026-02-10 10:00"))

    closed.refresh_from_db()
    assert (closed.status, closed.closed_at) == (status, at("2026-02-10 10:00"))
    # Closing changes the dispute only: the sanction stays until a manager lifts it, and the money stays counted.
    assert state_of(order) == ("chargeback", "suspended", True, Decimal("59.99"))


def test_it_closes_a_dispute_once_and_refuses_a_different_outcome_later(s1):
    order = make_order(s1)
    case = services.case_create(order=order, reason="other", requested_at=at("2026-01-20 10:00"),
                                now=at("2026-01-20 10:00"))
    dispute(order)
    dispute_close(dispute_id="dp_1", won=True, now=at("2026-02-10 10:00"))

    replay = dispute_close(dispute_id="dp_1", won="won", now=at("2026-02-11 10:00"))
    with pytest.raises(CaseActionError) as caught:
        dispute_close(dispute_id="dp_1", won=False, now=at("2026-02-12 10:00"))

    assert replay.closed_at == at("2026-02-10 10:00")
    assert "already closed as won on 10 Feb 2026" in caught.value.message
    closings = case.events.filter(kind=CaseEvent.Kind.CHARGEBACK, data__status__isnull=False)
    assert [e.comment for e in closings] == ["Dispute dp_1 closed: won."]


@pytest.mark.parametrize("won", ["needs_response", "under_review", "open", "maybe", None, 1])
def test_it_refuses_a_status_that_does_not_close_a_dispute(s1, won):
    dispute(make_order(s1))

    with pytest.raises(CaseActionError) as caught:
        dispute_close(dispute_id="dp_1", won=won, now=NOW)

    assert caught.value.code == Code.INVALID_INPUT
    assert Chargeback.objects.get().status == "open"


def test_it_says_a_dispute_it_never_recorded_is_not_found(s1):
    with pytest.raises(CaseActionError) as caught:
        dispute_close(dispute_id="dp_unknown", won=True, now=NOW)

    assert caught.value.code == Code.NOT_FOUND and "dp_unknown" in caught.value.message


def test_it_lets_a_manager_lift_a_disputes_sanction_as_any_other(s1, manager):
    order = make_order(s1)
    chargeback = dispute(order)

    chargeback_lift_sanction(chargeback=chargeback, actor=manager, note="Dispute won, customer apologised.", now=NOW)

    assert state_of(order)[:3] == ("chargeback", "active", False)
    assert Subscription.objects.get(order=order).status == "active"


def test_it_keeps_typed_in_chargebacks_out_of_the_disputes(s1, agent):
    typed = chargeback_record(order=make_order(s1), actor=agent, amount="10.00", opened_at=OPENED, now=NOW)

    assert (typed.dispute_id, typed.reason, typed.status, typed.evidence_due_by) == ("", "", "", None)
    with pytest.raises(CaseActionError):
        dispute_close(dispute_id="", won=True, now=NOW)


# --- concurrency --------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_records_one_chargeback_when_the_same_dispute_arrives_twice_at_once():
    from orders.models import Storefront

    order = make_order(Storefront.objects.get(slug="smarters-pro"))
    recorded, refused = race(lambda _: dispute(order), threads=2)

    assert refused == [] and len(recorded) == 2
    assert recorded[0].pk == recorded[1].pk
    assert Chargeback.objects.filter(dispute_id="dp_1").count() == 1
    order.refresh_from_db()
    assert order.charged_back_amount == Decimal("59.99")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_records_one_chargeback_when_one_dispute_arrives_for_two_orders_at_once():
    """No row lock is shared between two customers' orders: the unique dispute ID decides."""
    from orders.models import Storefront

    s1 = Storefront.objects.get(slug="smarters-pro")
    orders = [make_order(s1), make_order(s1)]
    recorded, refused = race(lambda i: dispute(orders[i % 2]), threads=8)

    assert refused == [] and len({c.pk for c in recorded}) == 1
    assert Chargeback.objects.filter(dispute_id="dp_1").count() == 1
