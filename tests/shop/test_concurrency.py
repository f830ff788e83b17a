"""Deliveries of one order arriving at the same moment, on PostgreSQL's row locks and real transactions."""

from __future__ import annotations

import pytest
from django.test import Client

from orders.models import Customer, Order
from shop.models import ShopCall
from tests.conftest import race
from tests.shop.conftest import deliver
from tests.shop.fake_woocommerce import woo_order

THREADS = 6


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_stores_a_new_order_once_when_its_deliveries_arrive_at_once(woo):
    order = woo_order(5101)
    done, refused = race(lambda i: deliver(order, delivery=f"d-{i}", client=Client()).status_code, threads=THREADS)
    assert done == [200] * THREADS and refused == []
    assert Order.objects.filter(shop_order_id=5101).count() == 1 and Customer.objects.count() == 1
    results = sorted(ShopCall.objects.values_list("result", flat=True))
    assert sum("new" in r for r in results) == 1 and sum("unchanged" in r for r in results) == THREADS - 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_newest_of_several_versions_delivered_at_once_is_the_one_kept(woo, plans):
    deliver(woo_order(5101, modified="2026-03-01T10:00:00"))
    versions = [woo_order(5101, modified=f"2026-03-0{2 + i}T00:00:00", total=f"{30 + i}.00") for i in range(THREADS)]
    done, _ = race(lambda i: deliver(versions[i], delivery=f"d-{i}", client=Client()).status_code, threads=THREADS)
    assert done == [200] * THREADS
    stored = Order.objects.get(shop_order_id=5101)
    assert str(stored.amount) == f"{30 + THREADS - 1}.00"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_new_orders_of_one_new_customer_delivered_at_once_make_one_customer(woo):
    orders = [woo_order(6000 + i, email="same@example.com") for i in range(THREADS)]
    done, _ = race(lambda i: deliver(orders[i], delivery=f"d-{i}", client=Client()).status_code, threads=THREADS)
    assert done == [200] * THREADS
    assert Order.objects.count() == THREADS and Customer.objects.filter(email="same@example.com").count() == 1
