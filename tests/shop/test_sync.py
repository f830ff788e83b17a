"""manage.py sync_orders against the fake shop: paging, resuming, counting, and the shop failing."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from orders.models import Order
from shop.models import Connection, KeptAsideOrder, ShopCall
from shop.tasks import sync_connected_orders
from tests.shop.fake_woocommerce import FakeWooCommerce, generated, gmt, woo_order

START = datetime(2026, 3, 1, tzinfo=UTC)


def sync(*args: str) -> tuple[int, list[str], str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("sync_orders", *args, stdout=out, stderr=err)
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    return status, out.getvalue().splitlines(), err.getvalue()


def run_failing(*args: str) -> tuple[int, str]:
    from django.core.management import CommandError

    try:
        call_command("sync_orders", *args, stdout=StringIO())
    except CommandError as error:
        return error.returncode, str(error)
    return 0, ""


def test_it_reads_every_page_and_counts_each_order_once(woo, fake):
    fake.put(*generated(250, start=START))
    status, lines, _ = sync("iptv-smarters-pro", "--since", "2026-01-01T00:00:00")
    assert status == 0 and lines[-1] == "250 new, 0 updated, 0 unchanged, 0 kept aside"
    assert Order.objects.filter(storefront=woo.storefront, shop_order_id__isnull=False).count() == 250
    pages = [r.query["page"][0] for r in fake.order_requests()]
    assert pages == ["1", "2", "3"]
    first = fake.order_requests()[0].query
    assert {k: v[0] for k, v in first.items()} == {
        "modified_after": "2026-01-01T00:00:00", "dates_are_gmt": "true", "orderby": "modified", "order": "asc",
        "per_page": "100", "page": "1"}
    woo.refresh_from_db()
    assert woo.sync_resume_at == START + timedelta(seconds=249)
    assert woo.last_sync_result == "250 new, 0 updated, 0 unchanged, 0 kept aside"


def test_it_sends_the_credentials_in_the_authorization_header_only(woo, fake):
    fake.put(woo_order(5101))
    sync("iptv-smarters-pro", "--since", "2026-01-01T00:00:00")
    seen = fake.order_requests()[0]
    expected = base64.b64encode(f"{fake.consumer_key}:{fake.consumer_secret}".encode()).decode()
    assert seen.headers["Authorization"] == f"Basic {expected}"
    assert fake.consumer_key not in seen.path + str(seen.query) and fake.consumer_secret not in str(seen.query)


def test_the_next_run_resumes_at_the_newest_change_less_a_minute(woo, fake):
    fake.put(*generated(120, start=START))
    sync("iptv-smarters-pro", "--since", "2026-01-01T00:00:00")
    fake.requests.clear()
    changed = generated(120, start=START)[-1]
    changed.update(date_modified_gmt=gmt(START + timedelta(minutes=30)), total="30.00")
    fake.put(changed, woo_order(7001, modified=gmt(START + timedelta(minutes=31))))
    status, lines, _ = sync("iptv-smarters-pro")
    # From 00:01:59 less a minute: the 59 orders of that last minute come again, unchanged.
    assert fake.order_requests()[0].query["modified_after"] == [gmt(START + timedelta(seconds=119 - 60))]
    assert status == 0 and lines[-1] == "1 new, 1 updated, 59 unchanged, 0 kept aside"


def test_the_first_run_without_since_starts_at_the_time_of_connecting(woo, fake):
    Connection.objects.filter(pk=woo.pk).update(connected_at=START + timedelta(minutes=5))
    fake.put(*generated(10 * 60, start=START))  # one a second for ten minutes
    status, lines, _ = sync("iptv-smarters-pro")
    assert fake.order_requests()[0].query["modified_after"] == [gmt(START + timedelta(minutes=5))]
    assert lines[-1] == "299 new, 0 updated, 0 unchanged, 0 kept aside"


def test_it_counts_unpaid_orders_as_unchanged_and_unusable_ones_as_kept_aside(woo, fake):
    fake.put(woo_order(1, status="pending"), woo_order(2, product_id=777, name="Lifetime"), woo_order(3))
    status, lines, _ = sync("iptv-smarters-pro", "--since", "2026-01-01T00:00:00")
    assert status == 0 and lines[-1] == "1 new, 0 updated, 1 unchanged, 1 kept aside"
    assert KeptAsideOrder.objects.get().via == "sync"


@pytest.mark.parametrize(("fault", "words"), [
    (401, "refused the credentials"), (500, "answered HTTP 500"), (503, "answered HTTP 503"),
])
def test_a_shop_that_refuses_or_fails_is_named_and_the_run_exits_1(woo, fake, fault, words):
    fake.put(woo_order(5101))
    fake.fail_next(fault)
    status, message = run_failing("iptv-smarters-pro", "--since", "2026-01-01T00:00:00")
    assert status == 1 and "IPTV Smarters Pro (iptv-smarters-pro" in message and words in message
    assert fake.consumer_secret not in message
    assert Order.objects.count() == 0
    call = ShopCall.objects.get()
    assert call.status == fault and call.direction == "out"
    woo.refresh_from_db()
    assert woo.last_sync_result.startswith("IPTV Smarters Pro")


def test_wrong_credentials_are_refused_by_the_shop(woo, fake):
    fake.consumer_secret = "cs_changed_in_the_shop"
    status, message = run_failing("iptv-smarters-pro", "--since", "2026-01-01T00:00:00")
    assert status == 1 and "refused the credentials (HTTP 401)" in message


def test_a_shop_that_does_not_answer_in_time_is_named_and_the_run_exits_1(woo, fake, settings):
    settings.SHOP_READ_TIMEOUT = 0.3
    fake.put(woo_order(5101))
    fake.stall_next(1.5)
    status, message = run_failing("iptv-smarters-pro", "--since", "2026-01-01T00:00:00")
    assert status == 1 and "did not answer within 0.3 s" in message
    assert ShopCall.objects.get().status is None


def test_a_shop_that_cannot_be_reached_is_named_and_the_run_exits_1(woo, fake):
    Connection.objects.filter(pk=woo.pk).update(url="http://127.0.0.1:9")  # discard: nothing listens
    status, message = run_failing("iptv-smarters-pro", "--since", "2026-01-01T00:00:00")
    assert status == 1 and "cannot be reached" in message


def test_a_failure_on_a_later_page_keeps_what_came_before_and_the_next_run_resumes(woo, fake):
    fake.put(*generated(250, start=START))
    asked = []
    original = fake._orders

    def third_page_fails_once(handler, query):
        asked.append(query["page"][0])
        if asked == ["1", "2", "3"]:
            return fake._send(handler, 502, {"code": "bad_gateway"})
        return original(handler, query)

    fake._orders = third_page_fails_once
    status, message = run_failing("iptv-smarters-pro", "--since", "2026-01-01T00:00:00")
    assert status == 1 and "HTTP 502" in message
    assert Order.objects.count() == 200
    woo.refresh_from_db()
    assert woo.sync_resume_at == START + timedelta(seconds=199)
    status, lines, _ = sync("iptv-smarters-pro")
    assert status == 0 and lines[-1] == "50 new, 0 updated, 60 unchanged, 0 kept aside"
    assert Order.objects.count() == 250


def test_bad_arguments_are_named_with_status_2(woo):
    from django.core.management import CommandError

    for args, named in ((["no-such-shop"], "SLUG"), (["smarters-pro"], "SLUG"),
                        (["iptv-smarters-pro", "--since", "yesterday"], "--since")):
        with pytest.raises(CommandError) as error:
            call_command("sync_orders", *args, stdout=StringIO())
        assert error.value.returncode == 2 and str(error.value).startswith(named)


def test_the_periodic_job_syncs_every_connected_storefront_and_goes_on_past_a_failing_one(woo, fake, s1):
    from shop.connections import connect

    with FakeWooCommerce() as down:
        other = connect(storefront=s1, kind=Connection.Kind.WOOCOMMERCE, url=down.url, by="test",
                        secrets={"consumer_key": "ck_x", "consumer_secret": "cs_x", "webhook_secret": "w"})
        Connection.objects.filter(pk=other.pk).update(connected_at=START)
        Connection.objects.filter(pk=woo.pk).update(connected_at=START)
        down.fail_next(500)
        fake.put(woo_order(5101))
        results = sync_connected_orders.delay().get()
    assert results["iptv-smarters-pro"] == "1 new, 0 updated, 0 unchanged, 0 kept aside"
    assert "HTTP 500" in results["smarters-pro"]
