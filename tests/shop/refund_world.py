"""A storefront connected to the fake shop, an order it sent by webhook, and its case approved: what the
refund tests start from, and what every one of them ends with (one refund in the shop, one payout)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from cases import services
from cases.models import CaseEvent, Payout, RefundCase, RefundRequest
from cases.states import State
from orders.models import Order
from shop.refunds import resend_after
from tests.conftest import at
from tests.shop.conftest import deliver
from tests.shop.fake_woocommerce import woo_order

SHOP_ID = 5101
REQUESTED = at("2026-03-01 12:00")
APPROVED = at("2026-03-01 13:00")
PAID = at("2026-03-02 09:00")


def shop_case(fake, people, *, payment_method: str = "stripe", total: str = "34.99", currency: str = "USD") -> RefundCase:
    """An order the shop sent by webhook, and its case approved by an agent."""
    item = woo_order(SHOP_ID, payment_method=payment_method, total=total, currency=currency)
    fake.put(item)
    assert deliver(item).status_code == 200
    order = Order.objects.get(shop_order_id=SHOP_ID)
    case = services.case_create(order=order, reason="other", requested_at=REQUESTED, now=REQUESTED)
    return services.case_approve(case=case, actor=people["agent"], now=APPROVED)


def pay(case, people, capture, **fields) -> RefundCase:
    """The manager's click; the worker's send runs once it is committed, as it would after the response."""
    with capture(execute=True):
        return services.case_pay(case=case, actor=people["manager"], reference=fields.pop("reference", ""), now=PAID,
                                 **fields)


def request_of(case) -> RefundRequest:
    return RefundRequest.objects.get(case=case, status__in=["sending", "confirmed", "held"])


def later() -> datetime:
    """A moment when the shop is surely done with any attempt made until now."""
    return timezone.now() + resend_after() + timedelta(seconds=1)


def assert_paid_once(case, fake, *, reference: str | None = None) -> Payout:
    """Exactly one refund in the shop, carrying the case's key, and one payout on the case: the shop's refund."""
    case = RefundCase.objects.get(pk=case.pk)
    assert case.state == State.PAID
    made = fake.refunds_made(SHOP_ID)
    assert len(made) == 1, made
    request = RefundRequest.objects.get(case=case, status="confirmed")
    assert {m["key"]: m["value"] for m in made[0]["meta_data"]} == {"refund_case": case.number,
                                                                     "refund_payout": request.key}
    payout = Payout.objects.get(case=case)
    assert payout.shop_refund_id == request.shop_refund_id == str(made[0]["id"])
    assert payout.reference == (reference or str(made[0]["id"]))
    assert CaseEvent.objects.filter(case=case, transition="pay").count() == 1
    assert Order.objects.get(pk=case.order_id).refunded_amount == payout.amount
    return payout


def posted_keys(fake) -> list[str]:
    return [{m["key"]: m["value"] for m in body["meta_data"]}["refund_payout"] for body in fake.refund_bodies]


def pay_committed(case, people) -> RefundCase:
    """The manager's click in a test whose transactions commit: the hand-off to the worker runs on commit."""
    return services.case_pay(case=case, actor=people["manager"], reference="", now=PAID)
