"""Thousands of orders: the fast writes (COPY on PostgreSQL, executemany on SQLite) store what the ORM would."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from orders.imports.engine import import_orders
from orders.models import Customer, Order, Subscription

COUNT = 3000
PRODUCTS = [(11, "1 Month", "14.99"), (93, "3 Months", "34.99"), (0, "IPTV 6 months", "54.99"),
            (40, "12 Months 3 Devices", "129.99")]


def shop_orders(count: int = COUNT) -> list[dict]:
    """Guests and returning customers, four plans (three by id, one by name), paid, refunded and pending."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    orders = []
    for i in range(count):
        product, name, price = PRODUCTS[i % 4]
        created = start + timedelta(minutes=7 * i, microseconds=i)
        status = "refunded" if i % 50 == 0 else "pending" if i % 97 == 0 else "processing" if i % 13 == 0 else "completed"
        refunds = [{"total": f"-{price}"}] if status == "refunded" else [{"total": "-1.50"}] if i % 31 == 0 else []
        orders.append({
            "id": 70_000 + i, "number": str(70_000 + i), "status": status, "currency": "EUR" if i % 5 == 0 else "USD",
            "customer_id": 0 if i % 2 else i // 3,
            "date_created_gmt": created.strftime("%Y-%m-%dT%H:%M:%S"),
            "date_paid_gmt": (created + timedelta(seconds=30)).isoformat(),
            "date_completed_gmt": None if status == "processing" else (created + timedelta(minutes=5)).isoformat(),
            "total": price,
            "billing": {"first_name": f"First{i % 400}", "last_name": "Last", "email": f"Buyer{i // 3}@Example.com",
                        "phone": "" if i % 3 else f"+1 555 {i:04d}"},
            "payment_method": ["stripe", "ppcp-gateway", "bacs", "nowpayments", "cod"][i % 5],
            "transaction_id": "" if i % 7 == 0 else f"ch_{i}",
            "line_items": [{"product_id": product, "variation_id": 41 if product == 40 else 0, "name": name}],
            "refunds": refunds,
        })
    return orders


def changed(orders: list[dict]) -> list[dict]:
    """The same shop a week later: new totals, deliveries, refunds, renamed and new customers."""
    later = json.loads(json.dumps(orders))
    for i, order in enumerate(later):
        if i % 10 == 1:
            order["total"] = "39.99" if order["total"] == "34.99" else order["total"]
            order["billing"]["first_name"] = "Renamed"
        if i % 13 == 0 and order["status"] == "processing":
            order["status"] = "completed"
            order["date_completed_gmt"] = "2026-06-01T00:00:00"
        if i % 17 == 2:
            order["billing"]["email"] = f"moved{i}@example.com"
        if i % 19 == 3:
            order["status"] = "refunded"
            order["refunds"] = [{"total": "-2.00"}]
    return later + shop_orders(COUNT + 500)[COUNT:]


def snapshot(storefront) -> dict:
    """Every stored value of the storefront's orders, customers and subscriptions, but ids and creation times."""
    orders = sorted(
        Order.objects.filter(storefront=storefront).values_list(
            "number", "customer__email", "plan__months", "plan__devices", "amount", "currency", "payment_method",
            "processor_reference", "purchased_at", "status", "refunded_amount", "charged_back_amount"))
    customers = sorted(Customer.objects.filter(storefront=storefront).values_list(
        "email", "name", "phone", "restricted_from_ordering", "restriction_reason"))
    subscriptions = sorted(Subscription.objects.filter(order__storefront=storefront).values_list(
        "order__number", "delivered_at", "status", "extension_days", "access_reference"))
    missing_times = (Order.objects.filter(storefront=storefront, created_at__isnull=True).count()
                     + Customer.objects.filter(storefront=storefront, created_at__isnull=True).count())
    return {"orders": orders, "customers": customers, "subscriptions": subscriptions, "missing": missing_times}


def import_both_files(storefront, *, orm: bool) -> tuple[dict, list[str], list[str]]:
    """Import the shop's file, then its later version; what is stored, and the two summaries."""
    summaries, statements = [], []
    with transaction.atomic():
        for data in (shop_orders(), changed(shop_orders())):
            with CaptureQueriesContext(connection) as queries:
                result = import_orders(storefront=storefront, text=json.dumps(data), fmt="woocommerce", commit=True,
                                       orm=orm)
            assert result.committed, result.errors[:3]
            summaries.append(result.summary)
            statements += [q["sql"] for q in queries.captured_queries]
        stored = snapshot(storefront)
        transaction.set_rollback(True)
    return stored, summaries, statements


def test_it_writes_thousands_of_orders_exactly_as_the_orm_path_does(plans, s0):
    slow, slow_summaries, _ = import_both_files(s0, orm=True)
    fast, fast_summaries, statements = import_both_files(s0, orm=False)

    assert fast_summaries == slow_summaries
    new, updated = int(fast_summaries[0].split()[0]), int(fast_summaries[1].split()[2])
    assert new > 2900 and updated > 300  # the later file changes hundreds of orders and adds 500
    assert fast == slow
    assert fast["missing"] == 0
    inserts = [sql for sql in statements if sql.lstrip().upper().startswith("INSERT") or " times: INSERT" in sql]
    if connection.vendor == "sqlite":  # one executemany per batch, reported as "N times: INSERT ..."
        assert inserts and all(" times: INSERT" in sql for sql in inserts)
    else:  # COPY is not among the logged statements: no INSERT at all means every row came through it
        assert inserts == []


def test_it_imports_thousands_of_orders_a_second_time_as_unchanged(plans, s0):
    text = json.dumps(shop_orders())
    first = import_orders(storefront=s0, text=text, fmt="woocommerce", commit=True)
    before = snapshot(s0)
    again = import_orders(storefront=s0, text=text, fmt="woocommerce", commit=True)
    assert again.summary == f"0 new, 0 updated, {COUNT} unchanged, 0 errors"
    assert first.count("new") == len(before["orders"]) and snapshot(s0) == before


def test_it_writes_nothing_of_thousands_of_orders_when_one_is_wrong(plans, s0):
    data = shop_orders()
    data[-1]["line_items"][0] = {"product_id": 999, "variation_id": 0, "name": "Gift card"}
    result = import_orders(storefront=s0, text=json.dumps(data), fmt="woocommerce", commit=True)
    assert [str(e) for e in result.errors] == [
        f'record {COUNT - 1}, line_items[0]: no plan of this storefront matches product 999 ("Gift card")']
    assert not result.committed and Order.objects.count() == Customer.objects.count() == 0
