"""Paying a case whose order's refunds go through a shop: the request, the wait, and one answer.

docs/shop.md, "Refunds through the shop". The shop is ``ScriptedShop`` (tests/cases/refund_channel.py);
the WooCommerce channel is tested against a fake shop in tests/shop.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from cases import services
from cases.checks import transition_error
from cases.models import CaseEvent, Payout, RefundRequest
from cases.services.chargebacks import chargeback_record
from cases.states import State
from core.errors import Code
from orders.models import Order
from tests.cases import PRICE, WITHIN_WINDOW, assert_refused, fresh, later, mail_names, open_case
from tests.cases.refund_channel import ScriptedShop
from tests.conftest import make_user, race

APPROVED_AT = later(WITHIN_WINDOW, hours=1)
PAID_AT = later(WITHIN_WINDOW, days=3)


@pytest.fixture
def shop():
    with ScriptedShop(at=PAID_AT) as channel:
        yield channel


def approved(storefront, approver, shop: ScriptedShop, **order_fields):
    case = open_case(storefront, **order_fields)
    shop.orders.add(case.order_id)
    return services.case_approve(case=case, actor=approver, now=APPROVED_AT)


def send(case, actor, *, reference: str = "", capture=None, **fields):
    if capture is None:
        return services.case_pay(case=case, actor=actor, reference=reference, now=PAID_AT, **fields)
    with capture(execute=True):
        return services.case_pay(case=case, actor=actor, reference=reference, now=PAID_AT, **fields)


def request_of(case) -> RefundRequest:
    return RefundRequest.objects.get(case=case)


# --- sending -------------------------------------------------------------------------------------


def test_it_sends_the_refund_to_the_shop_and_leaves_the_case_approved(
        s0, agent, manager, shop, django_capture_on_commit_callbacks, mailoutbox):
    case = approved(s0, agent, shop)

    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        waiting = services.case_pay(case=case, actor=manager, reference="", now=PAID_AT)
        assert shop.sent == []  # nothing leaves before the request is committed

    assert waiting.state == State.APPROVED
    request = request_of(case)
    assert (request.status, request.amount, request.currency, request.method) == ("sending", PRICE, "USD", "card")
    assert (request.channel, request.api_refund, request.reference, request.requested_by) == (
        "scripted", True, "", manager)
    assert request.key.startswith("rp_") and len(request.key) > 30
    assert (request.attempts, request.last_attempt_at, request.requested_at) == (0, None, PAID_AT)
    assert not Payout.objects.filter(case=case).exists()
    event = fresh(case).events.order_by("-created_at", "-id").first()
    assert (event.kind, event.actor, event.visibility) == (CaseEvent.Kind.REFUND, manager, "internal")
    assert event.comment.startswith("Refund sent, waiting for the shop (Scripted shop).")
    assert event.data["refund_key"] == request.key
    assert Order.objects.get(pk=case.order_id).refunded_amount == Decimal("0.00")

    for callback in after_commit:
        callback()
    assert shop.sent == [request.pk]
    assert mailoutbox == []  # the customer hears when the money has left


def test_it_needs_no_reference_when_the_shop_returns_the_money_but_one_when_it_cannot(s0, agent, manager, shop):
    by_card = approved(s0, agent, shop)
    by_crypto = approved(s0, agent, shop, payment_method="crypto")

    send(by_card, manager)
    assert_refused(lambda: send(by_crypto, manager), by_crypto, Code.REFERENCE_REQUIRED)
    send(by_crypto, manager, reference=" tx-0xabc ")

    assert request_of(by_card).api_refund is True
    crypto = request_of(by_crypto)
    assert (crypto.api_refund, crypto.reference) == (False, "tx-0xabc")


def test_it_needs_a_reference_when_the_manager_pays_by_another_method(s0, agent, manager, shop):
    case = approved(s0, agent, shop)

    assert_refused(lambda: send(case, manager, method="bank_transfer", method_note="Card closed."), case,
                   Code.REFERENCE_REQUIRED)
    send(case, manager, method="bank_transfer", method_note="Card closed.", reference="SEPA-881")

    request = request_of(case)
    assert (request.api_refund, request.method, request.reference) == (False, "bank_transfer", "SEPA-881")


def test_it_takes_a_typed_reference_as_money_already_moved_by_hand(s0, agent, manager, shop):
    case = approved(s0, agent, shop)

    send(case, manager, reference="re_from_the_dashboard")

    request = request_of(case)
    assert (request.api_refund, request.reference) == (False, "re_from_the_dashboard")  # the shop only records it


def test_it_pays_by_hand_as_before_when_no_channel_applies(s0, agent, manager, shop):
    case = services.case_approve(case=open_case(s0), actor=agent, now=APPROVED_AT)

    paid = send(case, manager, reference="re_9")

    assert paid.state == State.PAID
    assert paid.payout.reference == "re_9"
    assert not RefundRequest.objects.exists()
    assert shop.sent == []


def test_it_checks_the_same_rules_as_paying_by_hand_before_sending(s0, agent, manager, manager2, shop):
    case = approved(s0, manager, shop)

    assert_refused(lambda: send(case, manager), case, Code.FOUR_EYES)
    assert_refused(lambda: send(case, agent), case, Code.NO_PERMISSION)
    assert_refused(lambda: send(case, manager2, method="paypal"), case, Code.NOTE_REQUIRED)


# --- while it waits ------------------------------------------------------------------------------


def test_it_offers_neither_pay_nor_withdraw_while_the_refund_waits(s0, agent, manager, manager2, shop):
    case = approved(s0, agent, shop)
    send(case, manager)
    case = fresh(case)

    for name in ("pay", "withdraw"):
        error = transition_error(case=case, user=manager2, name=name, now=PAID_AT)
        assert error is not None and error.code == Code.POLICY_BLOCKS
        assert error.message.startswith("Refund sent, waiting for the shop (Scripted shop) since ")

    error = assert_refused(lambda: send(case, manager2), case, Code.POLICY_BLOCKS)
    assert error.message.endswith("the case is paid when the shop confirms it, and nothing is sent again or cancelled "
                                  "until it answers.")
    assert_refused(lambda: services.case_withdraw(case=case, actor=manager2, note="", now=PAID_AT), case,
                   Code.POLICY_BLOCKS)


def test_it_sends_once_on_a_double_click(s0, agent, manager, shop, django_capture_on_commit_callbacks):
    case = approved(s0, agent, shop)

    send(case, manager, capture=django_capture_on_commit_callbacks)
    error = assert_refused(lambda: send(case, manager, capture=django_capture_on_commit_callbacks), case,
                           Code.ALREADY_DONE_BY_YOU)

    assert error.message == ("You already did this (send the refund); the case is now approved, its refund waiting "
                             "for the shop. Nothing was done twice.")
    assert RefundRequest.objects.filter(case=case).count() == 1
    assert len(shop.sent) == 1


def test_it_holds_at_most_one_waiting_request_per_case_in_the_database(s0, agent, manager, shop):
    case = approved(s0, agent, shop)
    send(case, manager)
    first = request_of(case)

    with pytest.raises(IntegrityError), transaction.atomic():
        RefundRequest.objects.create(case=case, order=case.order, amount=PRICE, currency="USD", method="card",
                                     channel="scripted", api_refund=True, requested_by=manager, requested_at=PAID_AT)
    for bad in ({"amount": Decimal("0.00")}, {"api_refund": False, "reference": ""},
                {"status": "confirmed", "settled_at": PAID_AT}, {"status": "failed"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            RefundRequest.objects.filter(pk=first.pk).update(**bad)


# --- the shop's answer ---------------------------------------------------------------------------


def test_it_pays_the_case_when_the_shop_confirms_with_the_shops_refund_id(
        s0, agent, manager, shop, django_capture_on_commit_callbacks, mailoutbox):
    case = approved(s0, agent, shop)
    shop.answer = ("confirm", "wc-4711")

    send(case, manager, capture=django_capture_on_commit_callbacks)

    case = fresh(case)
    assert case.state == State.PAID and case.resolution == "refunded"
    payout = case.payout
    assert (payout.amount, payout.reference, payout.paid_by, payout.method, payout.paid_at) == (
        PRICE, "wc-4711", manager, "card", PAID_AT)
    request = request_of(case)
    assert (request.status, request.shop_refund_id, request.settled_at) == ("confirmed", "wc-4711", PAID_AT)
    order = Order.objects.get(pk=case.order_id)
    assert (order.refunded_amount, order.status) == (PRICE, Order.Status.REFUNDED)
    pay = case.events.get(transition="pay")
    assert (pay.actor, pay.actor_label, pay.from_state, pay.to_state) == (None, "Scripted shop", "approved", "paid")
    assert (pay.data["reference"], pay.data["shop_refund_id"], pay.data["sent_by"]) == ("wc-4711", "wc-4711", "maria")
    assert mail_names(mailoutbox) == ["Your refund has been sent"]


def test_it_keeps_the_managers_reference_when_the_money_was_moved_by_hand(
        s0, agent, manager, shop, django_capture_on_commit_callbacks):
    case = approved(s0, agent, shop, payment_method="crypto")
    shop.answer = ("confirm", "wc-12")

    send(case, manager, reference="tx-0xabc", capture=django_capture_on_commit_callbacks)

    assert fresh(case).payout.reference == "tx-0xabc"
    assert request_of(case).shop_refund_id == "wc-12"


def test_it_pays_once_when_the_answer_is_read_twice(s0, agent, manager, shop):
    case = approved(s0, agent, shop)
    send(case, manager)
    request = request_of(case)

    services.refund_request_confirm(request=request, shop_refund_id="wc-1", now=PAID_AT)
    again = services.refund_request_confirm(request=request.pk, shop_refund_id="wc-1", now=later(PAID_AT, minutes=5))
    late_refusal = services.refund_request_fail(request=request, message="Too late.", now=later(PAID_AT, minutes=6))

    assert again.status == late_refusal.status == "confirmed"
    assert Payout.objects.filter(case=case).count() == 1
    assert CaseEvent.objects.filter(case=case, transition="pay").count() == 1
    assert Order.objects.get(pk=case.order_id).refunded_amount == PRICE


def test_it_leaves_the_case_approved_and_payable_again_when_the_shop_refuses(
        s0, agent, manager, manager2, shop, django_capture_on_commit_callbacks):
    case = approved(s0, agent, shop)
    shop.answer = ("refuse", "Invalid refund amount")

    send(case, manager, capture=django_capture_on_commit_callbacks)

    case = fresh(case)
    refused = request_of(case)
    assert (refused.status, refused.message, refused.settled_at) == ("failed", "Invalid refund amount.", PAID_AT)
    assert case.state == State.APPROVED and not Payout.objects.filter(case=case).exists()
    assert case.flagged and case.flag_reason == "The shop refused the refund: Invalid refund amount."
    event = case.events.order_by("-created_at", "-id").first()
    assert (event.kind, event.actor_label) == (CaseEvent.Kind.REFUND, "Scripted shop")
    assert "Invalid refund amount" in event.comment
    assert transition_error(case=case, user=manager2, name="pay", now=PAID_AT) is None

    shop.answer = ("confirm", "wc-2")
    send(case, manager2, capture=django_capture_on_commit_callbacks)

    case = fresh(case)
    assert case.state == State.PAID and not case.flagged
    requests = list(RefundRequest.objects.filter(case=case).order_by("pk"))
    assert [r.status for r in requests] == ["failed", "confirmed"]
    assert requests[0].key != requests[1].key


def test_it_holds_a_refund_the_shop_recorded_without_returning_the_money(
        s0, agent, manager, manager2, shop, django_capture_on_commit_callbacks):
    case = approved(s0, agent, shop)
    shop.answer = ("unpaid", "wc-88")

    send(case, manager, capture=django_capture_on_commit_callbacks)

    case = fresh(case)
    held = request_of(case)
    assert (held.status, held.shop_refund_id) == ("held", "wc-88")
    assert case.state == State.APPROVED and not Payout.objects.filter(case=case).exists()
    assert case.flagged and "wc-88" in case.flag_reason
    assert "did not return the money" in held.message

    # Paid by hand on that refund: nothing more is sent to the shop.
    assert_refused(lambda: send(case, manager2), case, Code.REFERENCE_REQUIRED)
    paid = send(case, manager2, reference="manual-77", capture=django_capture_on_commit_callbacks)

    assert paid.state == State.PAID and paid.payout.reference == "manual-77"
    assert len(shop.sent) == 1
    assert RefundRequest.objects.get(pk=held.pk).status == "confirmed"
    assert RefundRequest.objects.filter(case=case).count() == 1


def test_it_holds_a_confirmed_refund_the_order_can_no_longer_take(s0, agent, manager, shop):
    case = approved(s0, agent, shop)
    send(case, manager)
    chargeback_record(order=case.order, amount=PRICE, actor=manager, opened_at=PAID_AT,
                      now=later(PAID_AT, minutes=1))

    request = services.refund_request_confirm(request=request_of(case), shop_refund_id="wc-5",
                                              now=later(PAID_AT, minutes=2))

    assert request.status == "held"
    assert "cannot be marked paid" in request.message and "H-CAP" in request.message
    case = fresh(case)
    assert case.state == State.APPROVED and case.flagged
    assert not Payout.objects.filter(case=case).exists()


# --- claiming an attempt -------------------------------------------------------------------------


def test_it_lets_one_attempt_be_taken_at_a_time(s0, agent, manager, shop):
    case = approved(s0, agent, shop)
    send(case, manager)
    request = request_of(case)

    first = services.refund_request_attempt(request=request, now=PAID_AT, last_before=None)
    assert (first.attempts, first.last_attempt_at) == (1, PAID_AT)
    assert services.refund_request_attempt(request=request, now=PAID_AT, last_before=None) is None
    assert services.refund_request_attempt(request=request, now=later(PAID_AT, minutes=1),
                                           last_before=PAID_AT) is None
    again = services.refund_request_attempt(request=request, now=later(PAID_AT, minutes=3),
                                            last_before=later(PAID_AT, minutes=2))
    assert (again.attempts, again.last_attempt_at) == (2, later(PAID_AT, minutes=3))

    services.refund_request_fail(request=request, message="No.", now=later(PAID_AT, minutes=4))
    assert services.refund_request_attempt(request=request, now=later(PAID_AT, hours=1),
                                           last_before=later(PAID_AT, hours=1)) is None


# --- PostgreSQL: at once -------------------------------------------------------------------------

THREADS = 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_pays_once_when_the_answer_is_read_by_several_processes_at_once(s0, shop):
    agent = make_user("alice", "Support agent")
    manager = make_user("maria", "Support manager")
    case = approved(s0, agent, shop)
    send(case, manager)
    request = request_of(case)

    done, refused = race(lambda i: services.refund_request_confirm(request=request.pk, shop_refund_id="wc-9",
                                                                   now=later(PAID_AT, seconds=i)))

    assert refused == [] and len(done) == THREADS
    assert {r.status for r in done} == {"confirmed"}
    assert Payout.objects.filter(case=case).count() == 1
    assert CaseEvent.objects.filter(case=case, transition="pay").count() == 1
    assert Order.objects.get(pk=case.order_id).refunded_amount == PRICE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_sends_one_request_when_several_managers_pay_at_once(s0, shop):
    agent = make_user("alice", "Support agent")
    payers = [make_user(f"payer{i}", "Support manager").pk for i in range(THREADS)]
    case = approved(s0, agent, shop)
    from django.contrib.auth.models import User

    done, refused = race(lambda i: services.case_pay(case=case.pk, actor=User.objects.get(pk=payers[i]),
                                                     reference="", now=PAID_AT, expected_state=State.APPROVED))

    assert len(done) == 1 and len(refused) == THREADS - 1
    assert {error.code for error in refused} == {Code.POLICY_BLOCKS}
    assert RefundRequest.objects.filter(case=case).count() == 1
    assert shop.sent == [RefundRequest.objects.get(case=case).pk]
