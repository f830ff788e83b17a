"""(i) The WooCommerce webhook under gunicorn and PostgreSQL: 50 signed deliveries a second for a minute.

Usage: ``.venv/bin/python bench/webhook_bench.py [--rate 50] [--seconds 60] [--workers 3] [--quick]``
(``make bench-webhook``). Drops and creates the database ``BENCH_WEBHOOK_URL`` (default
``postgres://postgres@127.0.0.1:5432/refunds_webhook_bench``), migrates it with production settings
(DEBUG off, a random SECRET_KEY and CONNECTION_KEYS), connects iptv-smarters-pro to a WooCommerce shop
with a webhook secret, and starts gunicorn (sync workers) on a free loopback port. No broker: nothing
of a delivery waits for a worker.

The load is open: deliveries are sent on a fixed schedule, each a request of its own, signed as
WooCommerce signs them, and latency is measured from the moment a delivery was due. Orders come in
groups of 25: each order's first version (``order.created``), then a newer one (``order.updated``),
the newer one again (a repeated delivery) and then the first one once more (late, out of order): a
quarter of the deliveries make an order, a quarter change one, half change nothing.

Then gunicorn stops and the rows are checked: every order stored exactly once, as its newest
version, and each delivery's result in the call log (new, updated, unchanged, stale) counted once
per order. Target: p95 at most 50 ms at 50 deliveries/s.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.burst import children_cpu, free_port, recreate_database, stop, uptime  # noqa: E402
from tests.shop.fake_woocommerce import gmt, woo_order  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/refunds_webhook_bench"
SHOP = "iptv-smarters-pro"
HOOK = f"/hooks/woocommerce/{SHOP}/"
P95_TARGET_MS = 50.0
GROUP = 25
ANSWER_TIMEOUT = 30.0


@dataclass
class Delivery:
    index: int
    shop_id: int
    topic: str
    body: bytes
    status: int = 0
    latency: float = 0.0
    error: str = ""


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="deliveries a second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the load lasts")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--quick", action="store_true", help="ten seconds, to check the bench itself")
    return parser.parse_args(argv)


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def deliveries(count: int) -> list[Delivery]:
    """``count`` deliveries (a multiple of four per order) in groups: first versions, newer versions, the newer
    ones again, the first ones again."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    orders = count // 4
    made: list[Delivery] = []
    for group in range(0, orders, GROUP):
        ids = [300_000 + k for k in range(group, min(group + GROUP, orders))]
        first = {i: woo_order(i, modified=gmt(start + timedelta(seconds=i)), completed=None) for i in ids}
        newer = {i: woo_order(i, modified=gmt(start + timedelta(seconds=i, hours=1)),
                              completed=gmt(start + timedelta(seconds=i, hours=1))) for i in ids}
        for versions, topic in ((first, "order.created"), (newer, "order.updated"), (newer, "order.updated"),
                                (first, "order.created")):
            for i in ids:
                made.append(Delivery(len(made), i, topic, json.dumps(versions[i]).encode()))
    return made


def send(port: int, delivery: Delivery, secret: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_TIMEOUT)
    try:
        connection.request("POST", HOOK, body=delivery.body, headers={
            "Content-Type": "application/json", "X-Forwarded-Proto": "https", "Host": "127.0.0.1",
            "X-WC-Webhook-Topic": delivery.topic, "X-WC-Webhook-Source": "https://shop.example.com/",
            "X-WC-Webhook-Delivery-ID": str(delivery.index), "X-WC-Webhook-ID": "7",
            "X-WC-Webhook-Signature": sign(delivery.body, secret), "Connection": "close"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def start_gunicorn(workers: int, env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen([str(gunicorn), "backoffice.wsgi", "--workers", str(workers), "--worker-class", "sync",
                               "--bind", f"127.0.0.1:{port}", "--backlog", "2048", "--timeout", "60"],
                              cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn stopped at start:\n{log.read_text()[-3000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("POST", HOOK, body=b"webhook_id=7", headers={
                "Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-Proto": "https",
                "Host": "127.0.0.1"})
            if connection.getresponse().status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    stop(server)
    raise SystemExit("gunicorn did not answer within 60 s")


def cpu(server: subprocess.Popen, database: str) -> dict[str, float]:
    """CPU seconds so far of the gunicorn workers and of PostgreSQL's backends for the bench database."""
    children, backends = children_cpu([server.pid], database)
    return {"gunicorn": children[server.pid], "postgres": backends}


def run_load(port: int, planned: list[Delivery], rate: float, secret: str) -> float:
    done = threading.Semaphore(0)

    def post(delivery: Delivery, due: float) -> None:
        try:
            delivery.status = send(port, delivery, secret)
        except Exception as error:  # a refused or timed-out connection is a result of the run
            delivery.error = f"{type(error).__name__}: {error}"
        delivery.latency = time.monotonic() - due
        done.release()

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=200) as pool:
        for i, delivery in enumerate(planned):
            due = start + i / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            pool.submit(post, delivery, due)
        deadline = start + len(planned) / rate + 60
        for _ in planned:
            if not done.acquire(timeout=max(0.1, deadline - time.monotonic())):
                break
    return time.monotonic() - start


def check(planned: list[Delivery]) -> dict:
    from django.db.models import Count

    from orders.models import Order
    from shop.models import ShopCall

    ids = {d.shop_id for d in planned}
    stored = dict(Order.objects.filter(shop_order_id__in=ids).values_list("shop_order_id").annotate(n=Count("id")))
    newest = dict(Order.objects.filter(shop_order_id__in=ids).values_list("shop_order_id", "shop_modified_at"))
    start = datetime(2026, 3, 1, tzinfo=UTC)
    results = list(ShopCall.objects.filter(topic__startswith="order.").values_list("result", flat=True))
    counts = {kind: sum(1 for r in results if r.endswith(f": {kind}"))
              for kind in ("new", "updated", "unchanged")}
    counts["stale"] = sum(1 for r in results if "older than the version stored" in r)
    result = {
        "orders": len(ids),
        "orders_not_stored_exactly_once": sum(1 for i in ids if stored.get(i) != 1),
        "orders_not_at_their_newest_version": sum(
            1 for i in ids if newest.get(i) != start + timedelta(seconds=i, hours=1)),
        "call_log_results": counts,
    }
    answered = sum(1 for d in planned if d.status == 200)
    result["ok"] = (result["orders_not_stored_exactly_once"] == 0 and result["orders_not_at_their_newest_version"] == 0
                    and answered == len(planned) and counts == {"new": len(ids), "updated": len(ids),
                                                                "unchanged": len(ids), "stale": len(ids)})
    return result


def percentile(times: list[float], q: float) -> float:
    times = sorted(times)
    return times[min(len(times) - 1, int(q * len(times)))] * 1000 if times else float("nan")


def main(argv=None) -> int:
    args = parse_args(argv)
    seconds = 10.0 if args.quick else args.seconds
    count = int(args.rate * seconds) // (4 * GROUP) * 4 * GROUP
    url = os.environ.get("BENCH_WEBHOOK_URL", DEFAULT_URL)
    print(f"load average at start: {uptime()}; {count} deliveries at {args.rate:g}/s; database {url}", flush=True)
    recreate_database(url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "backoffice.settings", "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50), "CONNECTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost", "DATABASE_URL": url, "RATE_LIMITS_SINGLE_PROCESS": "1",
        "STATIC_ROOT": str(workdir / "static"), "MEDIA_ROOT": str(workdir / "media"), "LOG_LEVEL": "WARNING",
    })
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        os.environ.update(env)
        import django

        django.setup()
        from decimal import Decimal

        from orders.models import Plan, Storefront
        from shop.connections import connect

        storefront = Storefront.objects.get(slug=SHOP)
        Plan.objects.create(storefront=storefront, name="3 months", months=3, devices=1, price=Decimal("34.99"),
                            external_product_id="93")
        secret = secrets.token_urlsafe(24)
        connect(storefront=storefront, kind="woocommerce", url="https://shop.example.com", by="bench",
                secrets={"consumer_key": "ck_bench", "consumer_secret": "cs_bench", "webhook_secret": secret})
        planned = deliveries(count)
        server = start_gunicorn(args.workers, env, port, workdir / "gunicorn.log")
        database = urlparse(url).path.lstrip("/")
        try:
            before = cpu(server, database)
            wall = run_load(port, planned, args.rate, secret)
            time.sleep(0.5)
            after = cpu(server, database)
        finally:
            stop(server)
        result = check(planned)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    answered = [d for d in planned if d.status == 200]
    times = [d.latency for d in answered]
    per = {k: round((after[k] - before[k]) * 1000 / max(1, len(answered)), 1) for k in before}
    p95 = percentile(times, 0.95)
    summary = {"deliveries": len(planned), "answered_200": len(answered), "achieved_per_s": round(len(answered) / wall, 1),
               "p50_ms": round(percentile(times, 0.5), 1), "p95_ms": round(p95, 1),
               "max_ms": round(max(times, default=0) * 1000, 1), "cpu_ms_a_delivery": per, "check": result}
    print(f"{len(planned)} deliveries in {wall:.1f} s ({summary['achieved_per_s']}/s answered 200: {len(answered)}); "
          f"p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms (target {P95_TARGET_MS:g}: "
          f"{'PASS' if p95 <= P95_TARGET_MS else 'MISS'}), max {summary['max_ms']} ms; CPU ms a delivery: "
          f"gunicorn {per['gunicorn']}, PostgreSQL {per['postgres']}")
    print(f"every order stored once, at its newest version, each result logged once: {'YES' if result['ok'] else 'NO'}")
    for key, value in result.items():
        print(f"  {key}: {value}")
    errors = sorted({d.error or str(d.status) for d in planned if d.status != 200})
    if errors:
        print("answers other than 200:", "; ".join(errors[:5]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"webhook-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(summary, indent=2, default=str))
    print(f"load average at end: {uptime()}; results in {out.relative_to(ROOT)}")
    return 0 if result["ok"] and p95 <= P95_TARGET_MS else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(main())
