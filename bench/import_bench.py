"""The order import at 100k orders: dry run, commit, and the same file again, against a bare bulk insert.

Usage::

    .venv/bin/python bench/import_bench.py [--orders 100000] [--database-url URL]

Without ``--database-url`` everything happens in a throwaway SQLite database in a temporary
directory; with one, that database must be migrated, and the bench's storefronts (slugs
``import-bench``, ``import-bench-orm``, ``import-bench-admin``) are created there and left behind;
their orders and customers from an earlier run are removed first. The file is a generated
WooCommerce REST API orders array: guests and returning customers, three plans matched by product
id or by name, paid, refunded and pending orders. The baseline is ``bulk_create`` of the same orders with
everything known in advance (no reading, no checks): the floor of writing them through the ORM.
The commit is measured three times, each on a storefront of its own: through
``orders/imports/writes.py`` (COPY on PostgreSQL, executemany on SQLite); through the ORM
(``orm=True``: model instances, ``bulk_create``), the path before it; and through the admin's
upload, preview page and confirm.
Target: 100k orders imported (checked and committed) in under 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 60


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    return parser.parse_args(argv)


def orders_file(count: int) -> str:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    plans = [("101", "1 Month IPTV", "14.99"), ("103", "3 Months IPTV", "34.99"), ("0", "IPTV 12 Months", "99.99")]
    items = []
    for i in range(count):
        product, name, price = plans[i % 3]
        created = start + timedelta(minutes=i)
        status = "refunded" if i % 50 == 0 else "pending" if i % 97 == 0 else "completed"
        items.append({
            "id": 100_000 + i, "number": str(100_000 + i), "status": status, "currency": "USD",
            "customer_id": 0 if i % 2 else i // 2,
            "date_created_gmt": created.strftime("%Y-%m-%dT%H:%M:%S"),
            "date_paid_gmt": (created + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S"),
            "date_completed_gmt": (created + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S"),
            "total": price,
            "billing": {"first_name": f"First{i}", "last_name": "Last", "email": f"buyer{i // 3}@example.com",
                        "phone": ""},
            "payment_method": "stripe" if i % 4 else "ppcp-gateway", "payment_method_title": "",
            "transaction_id": f"ch_{i}",
            "line_items": [{"product_id": int(product), "variation_id": 0, "name": name, "quantity": 1,
                            "total": price, "sku": None}],
            "refunds": [{"id": i, "reason": "", "total": f"-{price}"}] if status == "refunded" else [],
        })
    return json.dumps(items)


def setup(database_url: str, migrate: bool) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "backoffice.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # as in production: no query log
    if migrate:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)


def storefront(slug: str = "import-bench"):
    from orders.models import Plan, Storefront

    shop, _ = Storefront.objects.get_or_create(slug=slug, defaults={
        "name": slug.replace("-", " ").capitalize(), "support_email": f"support@{slug}.example"})
    for product, months, price in (("101", 1, "14.99"), ("103", 3, "34.99"), ("", 12, "99.99")):
        Plan.objects.get_or_create(storefront=shop, months=months, devices=1, defaults={
            "name": f"{months} months", "price": Decimal(price), "external_product_id": product})
    return shop


def clear(shop) -> None:
    """The bench storefront's orders and customers of an earlier run (nothing else rests on them)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM orders_subscription WHERE order_id IN "
                       "(SELECT id FROM orders_order WHERE storefront_id = %s)", [shop.pk])
        cursor.execute("DELETE FROM orders_order WHERE storefront_id = %s", [shop.pk])
        cursor.execute("DELETE FROM orders_customer WHERE storefront_id = %s", [shop.pk])


def settle() -> None:
    """On PostgreSQL, VACUUM ANALYZE the tables written: rolled-back runs leave dead rows behind,
    and a server with autovacuum off (as this bench's is) would plan every later step with them."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in ("orders_customer", "orders_order", "orders_subscription"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def timed(label: str, base: float, **kwargs) -> float:
    from orders.imports.engine import import_orders

    started = time.perf_counter()
    result = import_orders(**kwargs)
    seconds = time.perf_counter() - started
    print(f"  {label:<45}{seconds:>7.1f} s   {result.summary}   x{seconds / base:.1f} baseline", flush=True)
    return seconds


def admin(shop, text: str) -> None:
    """The admin's upload and preview page, then its confirm, as a manager's browser would post them."""
    import re

    from django.contrib.auth.models import User
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from django.urls import reverse

    user, _ = User.objects.get_or_create(username="import-bench", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    started = time.perf_counter()
    page = client.post(reverse("admin:orders_order_import"), {
        "storefront": shop.pk, "format": 0,
        "import_file": SimpleUploadedFile("orders.json", text.encode(), content_type="application/json")})
    seconds = time.perf_counter() - started
    html = page.content.decode()
    summary = re.search(r'class="import-summary">([^.]*)', html)
    print(f"  {'admin preview (another storefront)':<45}{seconds:>7.1f} s   "
          f"{summary.group(1) if summary else page.status_code}   {len(page.content) / 1e6:.1f} MB page, "
          f"{html.count('<tr class=')} rows", flush=True)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    started = time.perf_counter()
    done = client.post(reverse("admin:orders_order_process_import"), fields)
    print(f"  {'admin confirm (the whole file written)':<45}{time.perf_counter() - started:>7.1f} s   "
          f"status {done.status_code}", flush=True)


def baseline(shop, count: int) -> float:
    """bulk_create of the same number of orders, customers and subscriptions; then removed."""
    from django.db import transaction

    from orders.models import Customer, Order, Plan, Subscription

    plan = Plan.objects.filter(storefront=shop).first()
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    with transaction.atomic():
        customers = Customer.objects.bulk_create(
            [Customer(storefront=shop, email=f"base{i}@example.com") for i in range(count // 3)], batch_size=2000)
        orders = Order.objects.bulk_create([
            Order(storefront=shop, number=f"BASE{i}", customer=customers[i % len(customers)], plan=plan,
                  amount=Decimal("14.99"), currency="USD", payment_method="card", purchased_at=moment)
            for i in range(count)], batch_size=2000)
        Subscription.objects.bulk_create([Subscription(order=o, delivered_at=moment) for o in orders], batch_size=2000)
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    settle()
    return seconds


def main(argv=None) -> int:
    args = parse_args(argv)
    workdir = None
    database_url = args.database_url
    if not database_url:
        workdir = Path(tempfile.mkdtemp(prefix="import-bench-"))
        database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    try:
        setup(database_url, migrate=workdir is not None)
        # One storefront per writing path, so each commits for real (a rolled-back savepoint costs
        # SQLite a journal of its own) and each starts from no orders.
        shop, orm_shop, admin_shop = storefront(), storefront("import-bench-orm"), storefront("import-bench-admin")
        for each in (shop, orm_shop, admin_shop):
            clear(each)
        settle()
        text = orders_file(args.orders)
        print(f"Import of {args.orders:,} WooCommerce orders ({len(text) / 1e6:.0f} MB of JSON)", flush=True)
        base = baseline(shop, args.orders)
        print(f"  baseline bulk_create (nothing read or checked){base:>10.1f} s")
        run = {"storefront": shop, "text": text, "fmt": "woocommerce"}
        timings = {"dry run": timed("dry run (read and check)", base, commit=False, **run)}
        timings["commit"] = timed("commit", base, commit=True, **run)
        timings["again"] = timed("same file again", base, commit=True, **run)
        timings["orm"] = timed("commit through the ORM (another storefront)", base, commit=True, orm=True,
                               **{**run, "storefront": orm_shop})
        admin(admin_shop, text)
        print(f"  commit: {timings['orm'] / timings['commit']:.1f} times as fast as through the ORM")
        verdict = "PASS" if timings["commit"] < TARGET_SECONDS else "FAIL"
        print(f"  target: commit under {TARGET_SECONDS} s: {timings['commit']:.1f} s  {verdict}")
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
