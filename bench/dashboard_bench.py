"""The managers' dashboard and the policy backtest on a large PostgreSQL database.

Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/refunds_bench_1m .venv/bin/python bench/dashboard_bench.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/my_bench .venv/bin/python bench/dashboard_bench.py --load 1000000

It measures the database it is given (default ``refunds_bench_1m``). ``--load N`` first migrates it
and fills it with N cases written by SQL (``generate_series``, a few minutes for a million) if it
holds fewer. Measured, each against a baseline from the same run:

- dashboard: ``build_dashboard()``, the median of 5 runs after a warm-up, and its query count;
  baseline: one ``count()`` of every case (reading the table's smallest index once).
  Target: under 300 ms.
- backtest: a draft with a 24 h refund window replayed over every closed case of every storefront
  (all time); cases per second and the time for a million; baseline: streaming the same rows
  without building facts or deciding. Target: a million cases in under 60 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/refunds_bench_1m"
DASHBOARD_TARGET_MS = 300.0
BACKTEST_TARGET_S = 60.0


def setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "backoffice.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("This bench measures PostgreSQL: give a postgres:// DATABASE_URL.")


def log(text: str) -> None:
    print(text, flush=True)


# --- loading --------------------------------------------------------------------------------


def load(n: int) -> None:
    """N cases over the last three years on the shipped storefronts, most of them closed."""
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection, transaction

    from cases.models import RefundCase
    from orders.models import Plan, Storefront
    from rules.engine import REASONS

    call_command("migrate", interactive=False, verbosity=0)
    have = RefundCase.objects.count()
    if have >= n:
        log(f"  load: {have:,} cases already there")
        return
    if have:
        raise SystemExit(f"The database holds {have:,} cases, fewer than {n:,}: give an empty one to --load.")
    started = time.perf_counter()
    user, _ = User.objects.get_or_create(username="bench-manager", defaults={"is_staff": True})
    storefronts = list(Storefront.objects.order_by("slug"))
    plans = [Plan.objects.get_or_create(storefront=sf, months=3, devices=1,
                                        defaults={"name": "3 months", "price": "34.99", "currency": "USD"})[0]
             for sf in storefronts]
    reasons = "ARRAY[" + ",".join(f"'{r}'" for r in REASONS) + "]"
    # i % 100: 0-2 open, 3-40 denied, 41-75 paid, 76-90 resolved, 91-99 withdrawn.
    state = ("CASE WHEN i % 100 = 0 THEN 'requested' WHEN i % 100 = 1 THEN 'awaiting_fix' "
             "WHEN i % 100 = 2 THEN 'evidence_requested' WHEN i % 100 <= 40 THEN 'denied' "
             "WHEN i % 100 <= 75 THEN 'paid' WHEN i % 100 <= 90 THEN 'resolved' ELSE 'withdrawn' END")
    resolution = ("CASE WHEN i % 100 <= 2 THEN '' WHEN i % 100 <= 40 THEN 'denied' WHEN i % 100 <= 75 THEN 'refunded' "
                  "WHEN i % 100 <= 90 THEN 'fixed' ELSE 'withdrawn' END")
    paid = "(i % 100 BETWEEN 41 AND 75)"
    sf = f"(ARRAY[{','.join(str(s.pk) for s in storefronts)}])[1 + i % {len(storefronts)}]"
    plan = f"(ARRAY[{','.join(str(p.pk) for p in plans)}])[1 + i % {len(plans)}]"
    currency = f"(ARRAY[{','.join(repr('USD' if k == 0 else 'EUR') for k in range(len(storefronts)))}])[1 + i % {len(storefronts)}]"
    # Newest first: case i was requested i * 95 seconds before now (a million cover three years).
    requested = "(now() - (i * interval '95 seconds'))"
    purchased = f"({requested} - ((i % 72) * interval '1 hour') - interval '10 minutes')"
    decided = f"({requested} + ((1 + i % 96) * interval '1 hour'))"
    amount = "(34.99)::numeric(12,2)"
    statements = [
        f"""INSERT INTO orders_customer (id, storefront_id, email, name, phone, restricted_from_ordering,
               restriction_reason, created_at)
            SELECT i, {sf}, 'bench' || i || '@example.com', 'Customer ' || i, '', false, '', now()
            FROM generate_series(1, {n}) AS i""",
        f"""INSERT INTO orders_order (id, storefront_id, number, customer_id, plan_id, amount, currency,
               payment_method, processor_reference, purchased_at, status, refunded_amount, charged_back_amount,
               created_at)
            SELECT i, {sf}, 'B' || i, i, {plan}, {amount}, {currency}, CASE WHEN i % 3 = 0 THEN 'paypal' ELSE 'card' END,
               '', {purchased}, CASE WHEN {paid} THEN 'refunded' ELSE 'paid' END,
               CASE WHEN {paid} THEN {amount} ELSE 0 END, 0, now()
            FROM generate_series(1, {n}) AS i""",
        f"""INSERT INTO orders_subscription (id, order_id, delivered_at, status, extension_days, access_reference)
            SELECT i, i, CASE WHEN i % 7 = 0 THEN NULL ELSE {purchased} + interval '5 minutes' END, 'active', 0, ''
            FROM generate_series(1, {n}) AS i""",
        f"""INSERT INTO cases_refundcase (id, number, portal_key, order_id, reason, description, channel,
               reason_confirmed, requested_at, outage_hours, state, fix_started_at, fix_outcome, fix_deadline,
               next_deadline, flagged, flag_reason, decision, decided_at, needs_manager, resolution, deny_reason,
               approved_amount, approved_by_id, approved_at, approval_note, statutory_override,
               approved_as_exception, statutory_basis, statutory_claim, created_at, updated_at, storefront_id,
               currency, first_response_at, fix_window_missed)
            SELECT i, 'RC-B' || i, 'bench-' || i, i, ({reasons})[1 + (i / 2) % {len(REASONS)}], '', 'email', true,
               {requested}, CASE WHEN (i / 2) % 10 = 6 THEN (i % 120)::numeric ELSE 0 END, {state},
               CASE WHEN i % 5 = 0 THEN {requested} + interval '1 hour' END,
               CASE WHEN i % 5 = 0 THEN (ARRAY['resolved','unresolved'])[1 + (i / 5) % 2] ELSE '' END, NULL,
               CASE WHEN i % 100 IN (1, 2) THEN now() + ((i % 5) - 2) * interval '1 day' END, false, '', '{{}}',
               CASE WHEN i % 100 > 2 THEN {decided} END, false, {resolution},
               CASE WHEN i % 100 BETWEEN 3 AND 40 THEN 'policy_exclusion' ELSE '' END,
               CASE WHEN {paid} THEN {amount} END, CASE WHEN {paid} THEN {user.pk} END,
               CASE WHEN {paid} THEN {decided} - interval '1 hour' END, '', ({paid} AND i % 1000 = 41),
               ({paid} AND i % 1000 = 41), CASE WHEN {paid} AND i % 1000 = 41 THEN 'Consumer law' ELSE '' END, false,
               {requested}, now(), {sf}, {currency}, NULL, false
            FROM generate_series(1, {n}) AS i""",
        f"""INSERT INTO cases_payout (case_id, order_id, amount, currency, method, method_note, reference, paid_by_id,
               paid_at, arrival_min_days, arrival_max_days, arrival_worst_days, expected_by, expected_worst_by)
            SELECT i, i, {amount}, {currency}, 'card', '', 'PSP-' || i, {user.pk}, {decided}, 20, 31, 90,
               ({decided})::date + 45, ({decided})::date + 130
            FROM generate_series(1, {n}) AS i WHERE {paid}""",
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
        for table in ("orders_customer", "orders_order", "orders_subscription", "cases_refundcase", "cases_payout"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    log(f"  load: {n:,} cases in {time.perf_counter() - started:.0f} s")


# --- measuring ------------------------------------------------------------------------------


def bench_dashboard() -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cases.models import RefundCase
    from reports.dashboard import build_dashboard

    build_dashboard()  # warm-up: plans and caches
    times = []
    for _ in range(5):
        started = time.perf_counter()
        board = build_dashboard()
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        build_dashboard()
    base = []
    for _ in range(5):
        started = time.perf_counter()
        total = RefundCase.objects.count()
        base.append((time.perf_counter() - started) * 1000)
    median, baseline = statistics.median(times), statistics.median(base)
    log(f"  dashboard over {total:,} cases: median {median:.0f} ms of 5 (min {min(times):.0f}, max {max(times):.0f}); "
        f"{len(queries)} queries; target < {DASHBOARD_TARGET_MS:.0f} ms: {'PASS' if median < DASHBOARD_TARGET_MS else 'FAIL'}")
    log(f"  baseline count() of every case: {baseline:.0f} ms; ratio dashboard/baseline {median / baseline:.2f}")
    log(f"  last week: opened {board.opened.values[-2]}, closed {board.closed.values[-2]}")
    return {"dashboard_ms": median, "queries": len(queries), "baseline_ms": baseline, "cases": total}


def bench_backtest() -> dict:
    from orders.models import Storefront
    from policies.drafts import PolicyDraft
    from policies.selectors import policy_version_for
    from reports.backtest import backtest, closed_cases, replay_rows

    start, end = datetime(2000, 1, 1).astimezone(), datetime(2100, 1, 1).astimezone()
    replayed = changed = 0
    decide_s = stream_s = 0.0
    for storefront in Storefront.objects.order_by("slug"):
        version = policy_version_for(storefront_id=storefront.pk, purchased_at=end)
        policy = PolicyDraft.from_version(version, version="bench", full_refund_window_hours=24).as_version()
        policy.storefront = storefront
        draft = policy.to_policy()
        started = time.perf_counter()
        for _row in replay_rows(closed_cases(storefront_id=storefront.pk, start=start, end=end)):
            pass
        stream_s += time.perf_counter() - started
        started = time.perf_counter()
        result = backtest(draft=draft, storefront_id=storefront.pk, start=start, end=end)
        decide_s += time.perf_counter() - started
        replayed += result.total
        changed += result.changed
        log(f"  backtest {storefront.slug}: {result.total:,} closed cases, {result.changed:,} change")
    if not replayed:
        log("  backtest: no closed cases")
        return {}
    per_s = replayed / decide_s
    million = 1_000_000 / per_s
    log(f"  backtest: {replayed:,} cases in {decide_s:.1f} s = {per_s:,.0f} cases/s; a million in {million:.1f} s "
        f"({'measured' if replayed >= 1_000_000 else 'extrapolated'}); target < {BACKTEST_TARGET_S:.0f} s: "
        f"{'PASS' if million < BACKTEST_TARGET_S else 'FAIL'}")
    log(f"  baseline, streaming the same rows: {stream_s:.1f} s; ratio backtest/stream {decide_s / stream_s:.2f}")
    return {"backtest_cases": replayed, "backtest_s": decide_s, "million_s": million, "stream_s": stream_s,
            "changed": changed}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", type=int, metavar="N", help="first fill an empty database with N cases")
    parser.add_argument("--skip-backtest", action="store_true")
    parser.add_argument("--skip-dashboard", action="store_true")
    options = parser.parse_args(argv)
    setup(os.environ.get("DATABASE_URL") or DEFAULT_URL)
    if options.load:
        load(options.load)
    if not options.skip_dashboard:
        bench_dashboard()
    if not options.skip_backtest:
        bench_backtest()


if __name__ == "__main__":
    main()
