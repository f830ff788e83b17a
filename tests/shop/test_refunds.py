"""Refunds sent through WooCommerce, against a fake shop on loopback through the real client: whatever
goes wrong on the way, the shop ends up holding exactly one refund and the case is paid once.

docs/shop.md, "Refunds through the shop".
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from cases import services
from cases.models import CaseEvent, Payout, RefundCase, RefundRequest
from cases.states import State
from orders.models import Order
from shop.models import ShopCall
from shop.refunds import settle_refunds
from tests.conftest import at, make_order, make_user
from tests.shop.conftest import deliver
from tests.shop.refund_world import (
    APPROVED,
    PAID,
    REQUESTED,
    SHOP_ID,
    assert_paid_once,
    later,
    pay,
    posted_keys,
    request_of,
    shop_case,
)

# --- the refund as the shop gets it ------------------------------------------------------------------


def test_it_refunds_through_the_shop_and_pays_the_case_with_the_shops_refund_id(
        woo, fake, people, django_capture_on_commit_callbacks, mailoutbox):
    case = shop_case(fake, people)

    pay(case, people, django_capture_on_commit_callbacks)

    payout = assert_paid_once(case, fake)
    assert (payout.amount, payout.paid_by, payout.method) == (Decimal("34.99"), people["manager"], "card")
    request = request_of(case)
    assert fake.refund_bodies == [{
        "amount": "34.99", "reason": f"Refund case {case.number}", "api_refund": True,
        "meta_data": [{"key": "refund_case", "value": case.number}, {"key": "refund_payout", "value": request.key}],
    }]
    post = fake.refund_posts()[0]
    assert post.path == f"/wp-json/wc/v3/orders/{SHOP_ID}/refunds"
    assert post.headers["Authorization"].startswith("Basic ") and post.query == {}
    call = ShopCall.objects.get(method="POST", direction="out")
    assert (call.endpoint, call.status, call.case_id, call.order_id) == (
        f"/wp-json/wc/v3/orders/{SHOP_ID}/refunds", 201, case.pk, case.order_id)
    assert call.result == f"refund {payout.shop_refund_id} made"
    assert fake.consumer_secret not in call.endpoint + call.result
    assert len(mailoutbox) == 1 and payout.shop_refund_id in mailoutbox[0].body


def test_it_records_money_moved_by_hand_in_the_shop_with_the_managers_reference(
        woo, fake, people, django_capture_on_commit_callbacks):
    case = shop_case(fake, people, payment_method="bacs")

    pay(case, people, django_capture_on_commit_callbacks, reference="SEPA-2026-118")

    assert_paid_once(case, fake, reference="SEPA-2026-118")
    assert fake.refund_bodies[0]["api_refund"] is False


def test_it_pays_by_hand_as_before_an_order_imported_from_a_file(woo, fake, people):
    order = make_order(woo.storefront, amount="34.99", purchased_at=at("2026-03-01 10:00"))
    case = services.case_create(order=order, reason="other", requested_at=REQUESTED, now=REQUESTED)
    case = services.case_approve(case=case, actor=people["agent"], now=APPROVED)

    paid = services.case_pay(case=case, actor=people["manager"], reference="re_77", now=PAID)

    assert paid.state == State.PAID and paid.payout.reference == "re_77"
    assert fake.refund_posts() == [] and not RefundRequest.objects.exists()


# --- answers lost: read the shop's refunds before anything is sent again --------------------------------


def test_it_finds_a_refund_whose_answer_was_dropped_and_pays_once(woo, fake, people, django_capture_on_commit_callbacks):
    case = shop_case(fake, people)
    fake.after_refund(drop=True)

    waiting = pay(case, people, django_capture_on_commit_callbacks)

    assert waiting.state == State.APPROVED
    request = request_of(case)
    assert (request.status, request.attempts) == ("sending", 1)
    assert "cannot be reached" in request.message and "read before anything is sent again" in request.message
    assert len(fake.refunds_made(SHOP_ID)) == 1  # the shop made it; we do not know yet

    out = call_command_output("settle_refunds")

    assert out.splitlines()[-1] == "1 paid, 0 failed, 0 still waiting"
    assert_paid_once(case, fake)
    assert len(fake.refund_posts()) == 1  # read, never sent again


def test_it_waits_out_a_shop_that_answers_too_late_and_pays_once(
        woo, fake, people, settings, django_capture_on_commit_callbacks):
    settings.SHOP_READ_TIMEOUT = 0.3
    case = shop_case(fake, people)
    fake.after_refund(stall=1.5)

    pay(case, people, django_capture_on_commit_callbacks)

    request = request_of(case)
    assert request.status == "sending" and "did not answer within 0.3 s" in request.message
    assert ShopCall.objects.get(method="POST", direction="out").status is None
    assert settle_refunds(now=later()).summary == "1 paid, 0 failed, 0 still waiting"
    assert_paid_once(case, fake)
    assert len(fake.refund_posts()) == 1


def test_it_reads_a_5xx_as_no_answer_and_finds_the_refund_made_behind_it(
        woo, fake, people, django_capture_on_commit_callbacks):
    case = shop_case(fake, people)
    fake.after_refund(status=502)

    pay(case, people, django_capture_on_commit_callbacks)

    assert request_of(case).message.endswith("answered HTTP 502; its refunds are read before anything is sent again")
    assert settle_refunds().summary == "1 paid, 0 failed, 0 still waiting"
    assert_paid_once(case, fake)


def test_it_sends_again_with_the_same_key_only_when_the_shop_surely_has_no_refund(
        woo, fake, people, django_capture_on_commit_callbacks):
    case = shop_case(fake, people)
    fake.fail_next(503)  # nothing made

    pay(case, people, django_capture_on_commit_callbacks)
    assert settle_refunds().summary == "0 paid, 0 failed, 1 still waiting"  # too soon to send again
    assert len(fake.refund_posts()) == 1 and fake.refunds_made() == []

    assert settle_refunds(now=later()).summary == "1 paid, 0 failed, 0 still waiting"

    assert_paid_once(case, fake)
    key = request_of(case).key
    assert posted_keys(fake) == [key, key]  # sent again as the same refund
    assert request_of(case).attempts == 2
    reads = [seen for seen in fake.requests if seen.method == "GET" and seen.path.endswith("/refunds")]
    assert len(reads) == 2  # read before each decision after the first attempt


def test_a_worker_stopped_after_claiming_the_attempt_leaves_it_for_the_settling_run(woo, fake, people):
    case = shop_case(fake, people)
    services.case_pay(case=case, actor=people["manager"], reference="", now=PAID)  # its hand-off never ran
    request = request_of(case)
    services.refund_request_attempt(request=request, now=timezone.now(), last_before=None)  # then it died

    assert settle_refunds().summary == "0 paid, 0 failed, 1 still waiting"
    assert fake.refund_posts() == []
    assert settle_refunds(now=later()).summary == "1 paid, 0 failed, 0 still waiting"
    assert_paid_once(case, fake)


def test_a_hand_off_lost_with_the_broker_is_sent_by_the_settling_run(woo, fake, people):
    case = shop_case(fake, people)
    services.case_pay(case=case, actor=people["manager"], reference="", now=PAID)  # no commit callbacks: lost

    assert settle_refunds().summary == "1 paid, 0 failed, 0 still waiting"
    assert_paid_once(case, fake)


# --- refusals -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "code", "message"), [
    (400, "woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero."),
    (403, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    (500, "woocommerce_rest_cannot_create_order_refund", "Payment gateway error: card_declined."),
])
def test_it_fails_a_refused_refund_and_lets_a_manager_pay_again(
        woo, fake, people, django_capture_on_commit_callbacks, status, code, message):
    case = shop_case(fake, people)
    fake.refuse_next_refund(status, code=code, message=message)

    waiting = pay(case, people, django_capture_on_commit_callbacks)

    failed = RefundRequest.objects.get(case=case)
    assert failed.status == "failed" and waiting.state == State.APPROVED
    assert failed.message == f"IPTV Smarters Pro (iptv-smarters-pro, {fake.url}) refused the refund (HTTP {status}): " \
                             f"{message}"
    assert RefundCase.objects.get(pk=case.pk).flagged
    assert fake.refunds_made() == [] and not Payout.objects.exists()
    assert ShopCall.objects.get(method="POST", direction="out").result == f"refused: {message}"
    assert settle_refunds().summary == "0 paid, 0 failed, 0 still waiting"  # a refusal is settled: nothing to do

    manager2 = make_user("mike", "Support manager")
    with django_capture_on_commit_callbacks(execute=True):
        services.case_pay(case=case, actor=manager2, reference="", now=PAID)

    assert_paid_once(case, fake)
    assert len(set(posted_keys(fake))) == 2  # a new request, a new key


def test_it_fails_the_refund_the_order_no_longer_has_room_for_in_the_shop(
        woo, fake, people, django_capture_on_commit_callbacks):
    case = shop_case(fake, people)
    fake.refunds[SHOP_ID] = [{"id": 1, "amount": "30.00", "refunded_payment": True, "meta_data": []}]

    pay(case, people, django_capture_on_commit_callbacks)

    assert RefundRequest.objects.get(case=case).message.endswith("(HTTP 500): Invalid refund amount.")


def test_it_holds_a_refund_the_shop_recorded_without_returning_the_money(
        woo, fake, people, django_capture_on_commit_callbacks):
    fake.gateway_refunds = False
    case = shop_case(fake, people)

    pay(case, people, django_capture_on_commit_callbacks)

    held = RefundRequest.objects.get(case=case)
    refund_id = str(fake.refunds_made(SHOP_ID)[0]["id"])
    assert (held.status, held.shop_refund_id) == ("held", refund_id)
    case = RefundCase.objects.get(pk=case.pk)
    assert case.state == State.APPROVED and case.flagged and refund_id in case.flag_reason
    assert ShopCall.objects.get(method="POST", direction="out").result == f"refund {refund_id} made, the money not returned"

    # The shop lists its refund on the order: it is ours, not a refund made in the shop.
    assert deliver(fake.orders[SHOP_ID], delivery="d-2").status_code == 200
    assert Order.objects.get(pk=case.order_id).refunded_amount == Decimal("0.00")

    paid = services.case_pay(case=case, actor=make_user("mike", "Support manager"), reference="PAYPAL-MANUAL-9",
                             now=PAID)
    assert paid.state == State.PAID and paid.payout.shop_refund_id == refund_id
    assert len(fake.refund_posts()) == 1


# --- one refund, whatever the clicks and runs ------------------------------------------------------------


def test_a_double_click_sends_one_refund(woo, fake, people, django_capture_on_commit_callbacks):
    from tests.admin.conftest import act_url, client_for, messages_of

    case = shop_case(fake, people)
    client = client_for(people["manager"])
    payload = {"pay-expected_state": "approved", "pay-method": "card", "pay-reference": ""}

    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(act_url(case, "pay"), payload, follow=True)
        second = client.post(act_url(case, "pay"), payload, follow=True)

    assert messages_of(first)[0].startswith("Refund sent, waiting for the shop")
    # The second click comes while the first refund is on its way.
    assert messages_of(second) == ["You already did this (send the refund); the case is now approved, its refund "
                                   "waiting for the shop. Nothing was done twice."]
    assert_paid_once(case, fake)
    assert RefundRequest.objects.count() == 1


def test_a_webhook_arriving_before_the_answer_does_not_count_the_refund_twice(
        woo, fake, people, django_capture_on_commit_callbacks):
    case = shop_case(fake, people)
    fake.after_refund(drop=True)
    pay(case, people, django_capture_on_commit_callbacks)

    assert deliver(fake.orders[SHOP_ID], delivery="d-2").status_code == 200  # lists our refund, id unknown here
    assert Order.objects.get(pk=case.order_id).refunded_amount == Decimal("0.00")
    assert not CaseEvent.objects.filter(case=case, kind="shop_refund").exists()

    settle_refunds()
    assert_paid_once(case, fake)
    assert deliver(fake.orders[SHOP_ID], delivery="d-3").status_code == 200
    assert Order.objects.get(pk=case.order_id).refunded_amount == Decimal("34.99")


# --- the settling run --------------------------------------------------------------------------------


def call_command_output(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_settle_refunds_ends_with_a_status_0_and_its_counts_when_the_shop_is_down(
        woo, fake, people, django_capture_on_commit_callbacks):
    case = shop_case(fake, people)
    fake.after_refund(drop=True)
    pay(case, people, django_capture_on_commit_callbacks)
    fake.__exit__()  # the shop goes down

    out = call_command_output("settle_refunds", "-v", "2")

    lines = out.splitlines()
    assert lines[-1] == "0 paid, 0 failed, 1 still waiting"
    assert "cannot be reached" in lines[0]
    assert request_of(case).status == "sending" and RefundCase.objects.get(pk=case.pk).state == State.APPROVED


def test_settle_refunds_is_harmless_run_twice(woo, fake, people, django_capture_on_commit_callbacks):
    case = shop_case(fake, people)
    pay(case, people, django_capture_on_commit_callbacks)

    assert call_command_output("settle_refunds").splitlines()[-1] == "0 paid, 0 failed, 0 still waiting"
    assert settle_refunds(now=later()).summary == "0 paid, 0 failed, 0 still waiting"
    assert_paid_once(case, fake)


def test_disconnecting_is_refused_while_a_refund_waits(woo, fake, people, django_capture_on_commit_callbacks):
    from django.core.management.base import CommandError

    case = shop_case(fake, people)
    fake.after_refund(drop=True)
    pay(case, people, django_capture_on_commit_callbacks)

    with pytest.raises(CommandError) as refused:
        call_command("connect_storefront", "iptv-smarters-pro", "--disconnect", "woocommerce")

    assert refused.value.returncode == 2
    assert "1 refund(s) sent through WooCommerce are still waiting for its answer" in str(refused.value)
    settle_refunds()
    call_command_output("connect_storefront", "iptv-smarters-pro", "--disconnect", "woocommerce")


def test_it_sends_the_amount_in_the_currencys_own_decimals(woo, fake, people, django_capture_on_commit_callbacks):
    case = shop_case(fake, people, total="1250.00", currency="JPY")

    pay(case, people, django_capture_on_commit_callbacks)

    assert fake.refund_bodies[0]["amount"] == "1250"
    assert assert_paid_once(case, fake).currency == "JPY"
