"""Refunds sent through Stripe (a storefront connected to Stripe alone), with Stripe's own library
against a fake Stripe on loopback: one refund on Stripe's side, one payout, whatever goes wrong."""

from __future__ import annotations

import pytest
from django.utils import timezone

from cases import services
from cases.models import Payout, RefundCase, RefundRequest
from cases.states import State
from orders.models import Order
from shop.connections import connect
from shop.models import Connection, ShopCall
from shop.refunds import settle_refunds
from tests.conftest import at, make_order
from tests.shop.fake_stripe import FakeStripe
from tests.shop.refund_world import APPROVED, PAID, REQUESTED, later


@pytest.fixture
def fake_stripe():
    with FakeStripe() as stripe_api:
        yield stripe_api


@pytest.fixture
def stripe_connected(s0, fake_stripe) -> Connection:
    return connect(storefront=s0, kind=Connection.Kind.STRIPE, url=fake_stripe.url, by="test",
                   secrets={"secret_key": fake_stripe.secret_key, "webhook_secret": "whsec_fake"})


def stripe_case(storefront, people, fake_stripe, *, reference: str = "ch_5101", amount: str = "34.99",
                currency: str = "USD") -> RefundCase:
    order = make_order(storefront, amount=amount, currency=currency, purchased_at=at("2026-03-01 10:00"))
    Order.objects.filter(pk=order.pk).update(processor_reference=reference)
    minor = int(amount.replace(".", "")) if currency != "JPY" else int(float(amount))
    fake_stripe.charge("ch_5101", amount=minor, currency=currency.lower(), payment_intent="pi_5101")
    case = services.case_create(order=Order.objects.get(pk=order.pk), reason="other", requested_at=REQUESTED,
                                now=REQUESTED)
    return services.case_approve(case=case, actor=people["agent"], now=APPROVED)


def pay(case, people, capture) -> RefundCase:
    with capture(execute=True):
        return services.case_pay(case=case, actor=people["manager"], reference="", now=PAID)


def assert_paid_once(case, fake_stripe) -> Payout:
    case = RefundCase.objects.get(pk=case.pk)
    assert case.state == State.PAID
    made = [refund for refund in fake_stripe.refunds if refund["status"] != "failed"]
    assert len(made) == 1, fake_stripe.refunds
    request = RefundRequest.objects.get(case=case, status="confirmed")
    assert made[0]["metadata"] == {"refund_case": case.number, "refund_payout": request.key}
    payout = Payout.objects.get(case=case)
    assert payout.reference == payout.shop_refund_id == request.shop_refund_id == made[0]["id"]
    return payout


def test_it_refunds_the_charge_through_stripe_and_pays_the_case(
        stripe_connected, fake_stripe, people, django_capture_on_commit_callbacks):
    case = stripe_case(stripe_connected.storefront, people, fake_stripe)

    pay(case, people, django_capture_on_commit_callbacks)

    assert_paid_once(case, fake_stripe)
    request = RefundRequest.objects.get(case=case)
    assert fake_stripe.forms == [{"charge": "ch_5101", "amount": "3499", "metadata[refund_case]": case.number,
                                  "metadata[refund_payout]": request.key}]
    post = fake_stripe.refund_posts()[0]
    assert post.headers["Idempotency-Key"] == request.key
    assert post.headers["Authorization"] == f"Bearer {fake_stripe.secret_key}"
    call = ShopCall.objects.get(kind="stripe", method="POST")
    assert (call.endpoint, call.status, call.case_id) == ("/v1/refunds", 200, case.pk)
    assert fake_stripe.secret_key not in call.endpoint + call.result


@pytest.mark.parametrize(("reference", "field"), [("pi_5101", "payment_intent"), ("ch_5101", "charge")])
def test_it_names_the_charge_or_the_payment_intent(stripe_connected, fake_stripe, people, reference, field,
                                                   django_capture_on_commit_callbacks):
    case = stripe_case(stripe_connected.storefront, people, fake_stripe, reference=reference)

    pay(case, people, django_capture_on_commit_callbacks)

    assert fake_stripe.forms[0][field] == reference
    assert_paid_once(case, fake_stripe)


def test_it_sends_the_amount_in_the_currencys_smallest_unit(stripe_connected, fake_stripe, people,
                                                            django_capture_on_commit_callbacks):
    case = stripe_case(stripe_connected.storefront, people, fake_stripe, amount="1250.00", currency="JPY")

    pay(case, people, django_capture_on_commit_callbacks)

    assert fake_stripe.forms[0]["amount"] == "1250"
    assert_paid_once(case, fake_stripe)


def test_a_pending_refund_waits_and_is_paid_when_it_succeeds(stripe_connected, fake_stripe, people,
                                                             django_capture_on_commit_callbacks):
    fake_stripe.refund_status = "pending"
    case = stripe_case(stripe_connected.storefront, people, fake_stripe)

    waiting = pay(case, people, django_capture_on_commit_callbacks)

    assert waiting.state == State.APPROVED
    request = RefundRequest.objects.get(case=case)
    assert request.status == "sending" and "is pending" in request.message
    assert settle_refunds().summary == "0 paid, 0 failed, 1 still waiting"
    fake_stripe.settle(fake_stripe.refunds[0]["id"], "succeeded")
    assert settle_refunds().summary == "1 paid, 0 failed, 0 still waiting"
    assert_paid_once(case, fake_stripe)
    assert len(fake_stripe.refund_posts()) == 1


def test_a_failed_refund_fails_the_payout_with_the_reason(stripe_connected, fake_stripe, people,
                                                          django_capture_on_commit_callbacks):
    fake_stripe.refund_status = "failed"
    case = stripe_case(stripe_connected.storefront, people, fake_stripe)

    pay(case, people, django_capture_on_commit_callbacks)

    request = RefundRequest.objects.get(case=case)
    assert request.status == "failed"
    assert request.message == f"Stripe's refund {fake_stripe.refunds[0]['id']} failed: expired or canceled card."
    assert RefundCase.objects.get(pk=case.pk).state == State.APPROVED and not Payout.objects.exists()


def test_a_refusal_fails_the_payout_and_a_manager_may_pay_again(stripe_connected, fake_stripe, people,
                                                                django_capture_on_commit_callbacks):
    case = stripe_case(stripe_connected.storefront, people, fake_stripe, reference="ch_unknown")

    pay(case, people, django_capture_on_commit_callbacks)

    request = RefundRequest.objects.get(case=case)
    assert request.status == "failed" and "(HTTP 400): No such charge: 'ch_unknown'" in request.message
    Order.objects.filter(pk=case.order_id).update(processor_reference="ch_5101")  # the reference corrected
    from tests.conftest import make_user

    with django_capture_on_commit_callbacks(execute=True):
        services.case_pay(case=case, actor=make_user("mike", "Support manager"), reference="", now=PAID)
    assert_paid_once(case, fake_stripe)


def test_a_lost_answer_is_found_among_the_charges_refunds_and_paid_once(stripe_connected, fake_stripe, people,
                                                                        django_capture_on_commit_callbacks):
    case = stripe_case(stripe_connected.storefront, people, fake_stripe)
    fake_stripe.after_refund(drop=True)

    pay(case, people, django_capture_on_commit_callbacks)

    assert RefundRequest.objects.get(case=case).status == "sending"
    assert settle_refunds(now=later()).summary == "1 paid, 0 failed, 0 still waiting"
    assert_paid_once(case, fake_stripe)
    assert len(fake_stripe.refund_posts()) == 1


def test_a_5xx_is_no_answer_and_the_refund_is_sent_again_with_the_same_key(stripe_connected, fake_stripe, people,
                                                                          django_capture_on_commit_callbacks):
    case = stripe_case(stripe_connected.storefront, people, fake_stripe)
    fake_stripe.fail_next(500)

    pay(case, people, django_capture_on_commit_callbacks)
    assert settle_refunds().summary == "0 paid, 0 failed, 1 still waiting"  # too soon to send again
    assert settle_refunds(now=later()).summary == "1 paid, 0 failed, 0 still waiting"

    assert_paid_once(case, fake_stripe)
    key = RefundRequest.objects.get(case=case).key
    assert [seen.headers["Idempotency-Key"] for seen in fake_stripe.refund_posts()] == [key, key]


def test_the_shops_refunds_go_through_woocommerce_when_connected_to_both(
        stripe_connected, fake_stripe, woo, fake, people, django_capture_on_commit_callbacks):
    from tests.shop.refund_world import shop_case

    case = shop_case(fake, people)
    Order.objects.filter(pk=case.order_id).update(processor_reference="ch_5101")

    pay(case, people, django_capture_on_commit_callbacks)

    assert RefundRequest.objects.get(case=case).channel == "woocommerce"
    assert fake_stripe.refund_posts() == [] and len(fake.refunds_made()) == 1
    assert timezone.now() > PAID
