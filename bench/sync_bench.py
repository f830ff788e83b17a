"""(h) sync_orders of 100,000 orders from a paged WooCommerce shop, then the run after it.

Usage: ``.venv/bin/python bench/sync_bench.py [--orders 100000] [--quick]`` (``make bench-sync``).
Drops and creates the PostgreSQL database ``BENCH_SYNC_URL`` (default
``postgres://postgres@127.0.0.1:5432/refunds_sync_bench``; a ``sqlite:///…`` URL works too) and
migrates it; starts the fake WooCommerce shop of the tests (``tests/shop/fake_woocommerce.py``) in a
process of its own on loopback, serving the generated orders (one a second, each of its own customer,
all matching a plan by product id); connects iptv-smarters-pro to it; then times three runs of
``manage.py sync_orders`` as a process each, as cron or a worker would start it:

1. the first run, ``--since`` before the first order: every order is new (100 a page);
2. the next run without ``--since``: it resumes at the newest change less a minute, so it reads only
   the last minute's orders again;
3. a full re-read (``--since`` before the first order again): every order unchanged.

Targets: the first run under 60 s, the second under 10 s. After each run it checks the last line and
that every order is stored exactly once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.burst import recreate_database, uptime  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/refunds_sync_bench"
SHOP = "iptv-smarters-pro"
TARGETS = {"first": 60.0, "second": 10.0}
START = "2026-01-01T00:00:00"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="5,000 orders, to check the bench itself")
    return parser.parse_args(argv)


def start_fake(count: int) -> tuple[subprocess.Popen, str]:
    fake = subprocess.Popen([sys.executable, "-m", "tests.shop.fake_woocommerce", "--orders", str(count),
                             "--start", START], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    url = fake.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        fake.kill()
        raise SystemExit("the fake shop did not start")
    return fake, url


def sync(env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "manage.py", "sync_orders", SHOP, *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=1800)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"sync_orders failed ({result.returncode}): {result.stderr[-2000:]}")
    return seconds, result.stdout.strip().splitlines()[-1]


def main(argv=None) -> int:
    args = parse_args(argv)
    count = 5_000 if args.quick else args.orders
    url = os.environ.get("BENCH_SYNC_URL", DEFAULT_URL)
    if url.startswith("postgres"):
        recreate_database(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
    env.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "backoffice.settings", "LOG_LEVEL": "WARNING"})
    print(f"load average at start: {uptime()}; {count:,} orders; database {url}", flush=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    from decimal import Decimal

    from orders.models import Order, Plan, Storefront
    from shop.connections import connect

    storefront = Storefront.objects.get(slug=SHOP)
    Plan.objects.create(storefront=storefront, name="3 months", months=3, devices=1, price=Decimal("34.99"),
                        external_product_id="93")
    fake, shop_url = start_fake(count)
    try:
        connect(storefront=storefront, kind="woocommerce", url=shop_url, by="bench",
                secrets={"consumer_key": "ck_fake_0123456789", "consumer_secret": "cs_fake_0123456789",
                         "webhook_secret": "bench"})
        runs = {}
        for name, extra, expected in (
            ("first", ["--since", "2025-12-31T00:00:00"], f"{count} new, 0 updated, 0 unchanged, 0 kept aside"),
            ("second", [], "0 new, 0 updated, 60 unchanged, 0 kept aside"),
            ("full re-read", ["--since", "2025-12-31T00:00:00"], f"0 new, 0 updated, {count} unchanged, 0 kept aside"),
        ):
            seconds, last = sync(env, *extra)
            stored = Order.objects.filter(storefront=storefront).count()
            once = Order.objects.filter(storefront=storefront).values("shop_order_id").distinct().count()
            runs[name] = {"seconds": round(seconds, 1), "last_line": last, "expected": last == expected,
                          "orders_stored": stored, "each_once": stored == once == count}
            target = TARGETS.get(name)
            verdict = "" if target is None else (" PASS" if seconds < target else " MISS") + f" (target {target:g} s)"
            print(f"{name:14} {seconds:7.1f} s  {last!r}{'' if last == expected else ' UNEXPECTED'}; "
                  f"{stored:,} orders stored, each once: {stored == once == count}{verdict}; load {uptime()}",
                  flush=True)
    finally:
        fake.terminate()
        fake.wait(timeout=30)
    ok = all(r["expected"] and r["each_once"] for r in runs.values()) and all(
        runs[name]["seconds"] < target for name, target in TARGETS.items())
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"sync-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({"orders": count, "database": url.split("@")[-1], "runs": runs}, indent=2))
    print(f"load average at end: {uptime()}; results in {out.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
