"""POST /hooks/woocommerce/<slug>/: signed deliveries taken in once, in order, or kept aside with the reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client

from cases import services
from cases.models import CaseEvent, Payout
from cases.states import State
from core.errors import CaseActionError
from orders.models import Customer, Order, Plan
from shop.models import KeptAsideOrder, ShopCall
from tests.cases import open_case
from tests.conftest import make_order
from tests.shop.conftest import HOOK, WEBHOOK_SECRET, deliver, sign
from tests.shop.fake_woocommerce import woo_order


def stored(**lookup) -> dict:
    return Order.objects.filter(**lookup).values().get()


def test_it_takes_a_new_order_in_with_the_shops_id(woo, plans):
    response = deliver(woo_order(5101, number="A-5101", email="Ann.Lee@Example.com"), topic="order.created")
    assert response.status_code == 200 and response.json() == {"result": "new"}
    order = Order.objects.select_related("customer", "subscription").get(storefront=woo.storefront, number="A-5101")
    assert order.shop_order_id == 5101 and order.shop_modified_at == datetime(2026, 3, 1, 10, 10, tzinfo=UTC)
    assert order.plan == plans["3m"] and order.amount == Decimal("34.99") and order.customer.email == "ann.lee@example.com"
    assert order.subscription.delivered_at == datetime(2026, 3, 1, 10, 5, tzinfo=UTC)
    call = ShopCall.objects.get()
    assert (call.direction, call.status, call.topic, call.delivery_id, call.order_id) == ("in", 200, "order.created",
                                                                                         "d-1", order.pk)
    assert call.endpoint == HOOK and "new" in call.result


def test_it_answers_the_ping_with_exactly_200_and_changes_nothing(woo):
    response = Client().post(HOOK, b"webhook_id=7", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and response.content == b""
    assert Order.objects.count() == 0 and ShopCall.objects.get().result.startswith("ping")


@pytest.mark.parametrize("signature", [None, "", "bm90IHRoZSBzaWduYXR1cmU=", sign(b"another body")])
def test_it_refuses_a_missing_or_wrong_signature_with_401_and_changes_nothing(woo, signature):
    response = deliver(woo_order(5101), signature=signature)
    assert response.status_code == 401
    assert Order.objects.count() == 0 and KeptAsideOrder.objects.count() == 0
    assert ShopCall.objects.get().status == 401


def test_it_refuses_a_delivery_signed_with_another_secret(woo):
    body = json.dumps(woo_order(5101)).encode()
    assert deliver(body, signature=sign(body, secret=WEBHOOK_SECRET + "x")).status_code == 401
    assert Order.objects.count() == 0


def test_it_answers_404_for_a_storefront_not_connected_or_unknown(s0, s1, plans):
    assert deliver(woo_order(5101)).status_code == 404
    assert deliver(woo_order(5101), path="/hooks/woocommerce/no-such-shop/").status_code == 404
    assert Order.objects.count() == 0


def test_it_changes_nothing_when_the_same_delivery_comes_twice(woo):
    order = woo_order(5101)
    deliver(order, delivery="d-1")
    before = stored(shop_order_id=5101)
    response = deliver(order, delivery="d-2")  # each attempt has a delivery id of its own
    assert response.status_code == 200 and response.json() == {"result": "unchanged"}
    assert stored(shop_order_id=5101) == before and Order.objects.count() == 1 and Customer.objects.count() == 1


def test_it_applies_the_newer_version_and_ignores_an_older_one_that_comes_late(woo, plans):
    deliver(woo_order(5101, modified="2026-03-01T10:10:00"))
    newer = woo_order(5101, modified="2026-03-02T08:00:00", product_id=11, total="14.99")
    assert deliver(newer).json() == {"result": "updated"}
    late = woo_order(5101, modified="2026-03-01T12:00:00", product_id=41, total="129.99")
    assert deliver(late).json() == {"result": "stale"}
    order = Order.objects.get(shop_order_id=5101)
    assert order.plan == plans["1m"] and order.amount == Decimal("14.99")
    assert order.shop_modified_at == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    # The same time again is applied: the shop changed the order twice within one second.
    same_time = woo_order(5101, modified="2026-03-02T08:00:00", product_id=93, total="34.99")
    assert deliver(same_time).json() == {"result": "updated"}
    assert Order.objects.get(shop_order_id=5101).plan == plans["3m"]


def test_it_notes_a_deleted_order_and_deletes_nothing(woo):
    deliver(woo_order(5101))
    response = deliver({"id": 5101}, topic="order.deleted")
    assert response.status_code == 200
    assert Order.objects.filter(shop_order_id=5101).exists()
    call = ShopCall.objects.order_by("-pk").first()
    assert call.topic == "order.deleted" and "nothing is deleted" in call.result and call.order_id is not None


def test_it_answers_other_topics_and_bodies_that_are_not_orders_without_taking_anything(woo):
    assert deliver(woo_order(5101), topic="product.updated").status_code == 200
    assert deliver(b"not json", topic="order.created").status_code == 200
    assert deliver(b"[1, 2]", topic="order.created").status_code == 200
    assert Order.objects.count() == 0 and KeptAsideOrder.objects.count() == 0


def test_it_keeps_an_unusable_order_aside_with_the_reason_and_takes_it_in_once_fixed(woo, s0):
    unknown = woo_order(5102, product_id=777, name="Lifetime access")
    response = deliver(unknown)
    assert response.status_code == 200 and response.json() == {"result": "kept aside"}
    kept = KeptAsideOrder.objects.get()
    assert kept.shop_order_id == 5102 and kept.number == "5102" and kept.taken_in_at is None
    assert "no plan of this storefront matches product 777" in kept.reason
    # Only what the reader uses is kept of the customer: no address, no IP address.
    assert "address_1" not in json.dumps(kept.order_object) and "customer_ip_address" not in kept.order_object
    assert Order.objects.count() == 0

    Plan.objects.create(storefront=s0, name="Lifetime", months=12, devices=1, price=Decimal("34.99"),
                        external_product_id="777")
    again = woo_order(5102, product_id=777, name="Lifetime access", modified="2026-03-01T11:00:00")
    assert deliver(again).json() == {"result": "new"}
    kept.refresh_from_db()
    assert kept.taken_in_at is not None and kept.order == Order.objects.get(shop_order_id=5102)
    assert kept.order_object == {}


def test_it_keeps_an_order_with_a_bad_field_aside_naming_the_field(woo):
    deliver(woo_order(5103, email="not-an-address"))
    kept = KeptAsideOrder.objects.get()
    assert kept.reason.startswith("billing.email:")


def test_an_older_delivery_than_the_version_kept_aside_is_not_taken_in(woo):
    deliver(woo_order(5104, product_id=777, name="Lifetime access", modified="2026-03-02T00:00:00"))
    assert deliver(woo_order(5104, modified="2026-03-01T00:00:00")).json() == {"result": "stale"}
    assert Order.objects.count() == 0 and KeptAsideOrder.objects.get().taken_in_at is None


def test_it_counts_the_shops_own_refunds_toward_the_refunded_total(woo):
    deliver(woo_order(5101, modified="2026-03-01T10:10:00"))
    refunded = woo_order(5101, modified="2026-03-03T09:00:00", refunds=[{"id": 900, "reason": "", "total": "-10.00"}])
    assert deliver(refunded).json() == {"result": "updated"}
    order = Order.objects.get(shop_order_id=5101)
    assert order.refunded_amount == Decimal("10.00") and order.status == "partially_refunded"
    assert order.refundable_remainder == Decimal("24.99")


def test_it_never_counts_a_refund_the_product_made_twice(woo, fake, s0, agent, manager,
                                                         django_capture_on_commit_callbacks):
    fake.put(woo_order(5101))
    deliver(woo_order(5101))
    order = Order.objects.get(shop_order_id=5101)
    case = open_case(s0, order=order, reason="other", requested_at=datetime(2026, 3, 1, 12, tzinfo=UTC))
    case = services.case_approve(case=case, actor=agent, amount=Decimal("34.99"), now=datetime(2026, 3, 1, 13, tzinfo=UTC))
    with django_capture_on_commit_callbacks(execute=True):  # the refund goes out through the shop
        services.case_pay(case=case, actor=manager, reference="", now=datetime(2026, 3, 1, 14, tzinfo=UTC))
    assert Payout.objects.get(case=case).shop_refund_id == str(fake.refunds_made(5101)[0]["id"])
    listed = fake.orders[5101]
    assert listed["refunds"][0]["total"] == "-34.99"
    deliver(listed)
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("34.99")


def test_a_payout_paid_by_hand_and_the_same_refund_entered_in_the_shop_count_once(woo, s0, agent, manager):
    # Imported from a file before the shop was connected: no shop order id, so it is paid by hand.
    order = make_order(s0, amount="34.99", purchased_at=datetime(2026, 3, 1, 10, tzinfo=UTC))
    Order.objects.filter(pk=order.pk).update(number="5101")
    case = open_case(s0, order=order, reason="other", requested_at=datetime(2026, 3, 1, 12, tzinfo=UTC))
    case = services.case_approve(case=case, actor=agent, amount=Decimal("20.00"), now=datetime(2026, 3, 1, 13, tzinfo=UTC))
    services.case_pay(case=case, actor=manager, reference="bank-77", now=datetime(2026, 3, 1, 14, tzinfo=UTC))
    deliver(woo_order(5101, modified="2026-03-02T00:00:00", email=order.customer.email,
                      refunds=[{"id": 950, "total": "-20.00"}]))
    order.refresh_from_db()
    assert order.shop_order_id == 5101 and order.refunded_amount == Decimal("20.00")
    deliver(woo_order(5101, modified="2026-03-03T00:00:00", email=order.customer.email,
                      refunds=[{"id": 950, "total": "-20.00"}, {"id": 951, "total": "-5.00"}]))
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("25.00")


def test_an_approved_case_whose_order_the_shop_refunded_in_full_is_flagged_and_cannot_be_paid(woo, s0, agent, manager):
    deliver(woo_order(5101))
    order = Order.objects.get(shop_order_id=5101)
    case = open_case(s0, order=order, reason="other", requested_at=datetime(2026, 3, 1, 12, tzinfo=UTC))
    case = services.case_approve(case=case, actor=agent, amount=Decimal("34.99"), now=datetime(2026, 3, 1, 13, tzinfo=UTC))
    response = deliver(woo_order(5101, status="refunded", modified="2026-03-02T00:00:00",
                                 refunds=[{"id": 902, "total": "-34.99"}]))
    assert response.status_code == 200
    case.refresh_from_db()
    assert case.state == State.APPROVED and case.flagged and "For a manager" in case.flag_reason
    event = case.events.filter(kind=CaseEvent.Kind.SHOP_REFUND).get()
    assert event.visibility == CaseEvent.Visibility.INTERNAL and event.data["approval_blocked"] is True
    assert ShopCall.objects.order_by("-pk").first().case_id == case.pk
    with pytest.raises(CaseActionError):
        services.case_pay(case=case, actor=manager, reference="late", now=datetime(2026, 3, 2, 1, tzinfo=UTC))
    assert not Payout.objects.exists()
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("34.99") and order.refundable_remainder == 0


def test_a_refund_that_leaves_enough_for_the_approval_only_notes_it_on_the_case(woo, s0, agent):
    deliver(woo_order(5101))
    order = Order.objects.get(shop_order_id=5101)
    case = open_case(s0, order=order, reason="other", requested_at=datetime(2026, 3, 1, 12, tzinfo=UTC))
    case = services.case_approve(case=case, actor=agent, amount=Decimal("10.00"), now=datetime(2026, 3, 1, 13, tzinfo=UTC))
    deliver(woo_order(5101, modified="2026-03-02T00:00:00", refunds=[{"id": 903, "total": "-5.00"}]))
    case.refresh_from_db()
    assert not case.flagged and case.events.filter(kind=CaseEvent.Kind.SHOP_REFUND).count() == 1
    deliver(woo_order(5101, modified="2026-03-03T00:00:00", refunds=[{"id": 903, "total": "-5.00"}]))
    assert case.events.filter(kind=CaseEvent.Kind.SHOP_REFUND).count() == 1  # the same refund, told once


def test_an_order_imported_from_a_file_gets_its_shop_id_from_the_first_delivery(woo, s0, plans, tmp_path):
    from django.core.management import call_command

    path = tmp_path / "orders.json"
    path.write_text(json.dumps([woo_order(5101)]))
    call_command("import_orders", str(path), "--storefront", s0.slug, "--commit", stdout=open("/dev/null", "w"))
    assert Order.objects.get(number="5101").shop_order_id is None  # a file's orders carry no shop id
    assert deliver(woo_order(5101, modified="2026-03-04T00:00:00")).json() == {"result": "updated"}
    assert Order.objects.get(number="5101").shop_order_id == 5101 and Order.objects.count() == 1


def test_a_shop_id_that_another_order_here_holds_is_kept_aside(woo):
    deliver(woo_order(5101, number="5101"))
    deliver(woo_order(6000, number="5101"))  # the same number under another id of the shop
    assert KeptAsideOrder.objects.get().reason.startswith("id: order 5101 here is the shop's order 5101")
