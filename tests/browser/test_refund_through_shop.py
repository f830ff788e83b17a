"""A manager pays a case of a storefront connected to WooCommerce: the refund is handed to a worker,
the case page says it waits for the shop, and once the worker has sent it and the shop has made the
refund the case is paid.

The worker is this test: the click's hand-off goes to an in-memory broker nobody reads, as it would
to Redis with the worker busy, and the test then runs the task the worker would."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.staff import sign_in
from tests.browser.test_case_page import CHROMIUM, page  # noqa: F401 (the launch fixture)
from tests.conftest import make_user
from tests.outbox.celery_conf import celery_conf

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
SHOTS = Path("/tmp/shots-refund")
WIDTHS = {"desktop": (1366, 900), "phone": (375, 812)}


def shots(page, state: str) -> None:  # noqa: F811
    for name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SHOTS / f"case-{state}-{name}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{state} scrolls sideways at {width}"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_manager_sends_the_refund_and_sees_it_paid_once_the_shop_confirms(live_server, page):  # noqa: F811
    from cases import services
    from cases.models import Payout, RefundRequest
    from cases.services.refunds import send_refund_request
    from orders.models import Order, Plan, Storefront
    from shop.connections import connect
    from shop.models import Connection
    from tests.shop.conftest import WEBHOOK_SECRET, deliver
    from tests.shop.fake_woocommerce import FakeWooCommerce, woo_order
    from tests.shop.refund_world import APPROVED, REQUESTED

    SHOTS.mkdir(exist_ok=True)
    storefront = Storefront.objects.get(slug="iptv-smarters-pro")
    Plan.objects.create(storefront=storefront, name="3 months", months=3, devices=1, price="34.99",
                        external_product_id="93")
    agent, manager = make_user("alice", "Support agent"), make_user("maria", "Support manager")
    with FakeWooCommerce() as fake:
        connect(storefront=storefront, kind=Connection.Kind.WOOCOMMERCE, url=fake.url, by="test",
                secrets={"consumer_key": fake.consumer_key, "consumer_secret": fake.consumer_secret,
                         "webhook_secret": WEBHOOK_SECRET})
        item = woo_order(5101, number="A-5101", total="34.99")
        fake.put(item)
        assert deliver(item).status_code == 200
        case = services.case_create(order=Order.objects.get(shop_order_id=5101), reason="other",
                                    requested_at=REQUESTED, now=REQUESTED)
        services.case_approve(case=case, actor=agent, now=APPROVED)
        page.set_viewport_size({"width": 1366, "height": 900})
        sign_in(page, live_server.url, manager, f"/admin/cases/refundcase/{case.pk}/change/")
        shots(page, "approved")
        form = page.locator("form[data-action=pay]")
        assert form.locator("button[type=submit]").inner_text() == "Send the refund through WooCommerce"
        with celery_conf(broker_url="memory://", task_always_eager=False):
            form.locator("button[type=submit]").click()
            page.wait_for_selector("#refund-waiting")

        page.wait_for_selector("#refund-waiting")
        assert page.locator("#case-state").inner_text() == "Approved"
        assert page.locator(".messagelist").inner_text().startswith("Refund sent, waiting for the shop")
        assert "Refund sent, waiting for the shop" in page.locator("#refund").inner_text()
        assert page.locator("form[data-action=pay]").count() == 0
        assert "Refund sent, waiting for the shop (WooCommerce)" in page.locator("#blocked-actions").inner_text()
        assert fake.refund_posts() == []
        shots(page, "waiting")

        request = RefundRequest.objects.get(case=case)
        send_refund_request(request.pk)  # the worker: the shop makes the refund and answers
        assert Payout.objects.filter(case=case).exists()

        page.set_viewport_size({"width": 1366, "height": 900})
        page.reload()
        page.wait_for_selector("#case-state:has-text('Paid')")
        refund_id = str(fake.refunds_made(5101)[0]["id"])
        assert "Refund confirmed by the shop" in page.locator("#refund").inner_text()
        assert refund_id in page.locator("#payout").inner_text()
        assert page.locator("#refund-waiting").count() == 0
        shots(page, "paid")
        assert len(fake.refunds_made()) == 1
