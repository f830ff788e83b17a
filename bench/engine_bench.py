"""(a) The pure policy engine: a million distinct facts decided, on one CPU, against a baseline.

The facts are generated up front (not timed): a million different cases, every reason on both
storefronts, delivered or not, every fix-attempt situation, short and long outages, partly and
fully refunded orders, so that they do not sit in the CPU cache the way a small reused pool does.
Then, pinned to one CPU, each of ``runs`` rounds times

- the baseline: building the same ``Facts`` objects, without deciding;
- ``decide()`` alone over the prebuilt facts (the target: a million in under 10 s);
- building and deciding in one loop, as a caller that starts from rows does.

The median of the rounds is reported, with the ratio decide/baseline measured in the same run.
To compare two versions of the engine, run this file on both checkouts one after the other
(``.venv/bin/python -m bench.engine_bench``); it needs no database.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import random
import statistics
import sys
import time
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rules.engine import PAYMENT_METHODS, PLAN_MONTHS, REASONS, ZERO, Facts, FixAttempt, Policy, decide

MILLION = 1_000_000
TARGET_SECONDS = 10.0  # a million distinct facts, decide() alone, one core
RUNS = 3
COVERAGE_SAMPLE = 4096

PRICES = [Decimal(p) for p in ("14.99", "34.99", "54.99", "79.99", "129.99")]
REQUEST_DELAYS_H = (1, 10, 30, 47.5, 48, 49, 100, 24 * 20, 24 * 60, 24 * 200, 24 * 400)
OUTAGES_H = (0, 12, 48, 48.5, 72, 200)
FIX_KINDS = ("none", "pending_young", "pending_old", "resolved", "unresolved")


def varied_facts(count: int, *, seed: int = 2026) -> list[tuple[int, dict]]:
    """(storefront index, Facts keyword arguments): every reason on both storefronts, delivered or not,
    every fix-attempt situation, short and long outages, partly and fully refunded orders."""
    rng = random.Random(seed)
    start = datetime(2025, 6, 1, tzinfo=UTC)
    pool = []
    for i in range(count):
        storefront = i % 2
        reason = REASONS[(i // 2) % len(REASONS)]
        price = rng.choice(PRICES)
        purchased = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 500))
        requested = purchased + timedelta(hours=rng.choice(REQUEST_DELAYS_H))
        delivered = None
        if rng.random() > 0.25:
            delivered = purchased + timedelta(minutes=rng.choice((5, 90, 60 * 24 * 3)))
        as_of = requested + timedelta(hours=rng.choice((0, 5, 47, 49, 24 * 7)))
        fix = None
        if reason == "technical_issue":
            kind = rng.choice(FIX_KINDS)
            if kind != "none":
                started = requested + timedelta(hours=1)
                outcome = "pending" if kind.startswith("pending") else kind
                as_of = started + timedelta(hours=10 if kind == "pending_young" else 60)
                fix = FixAttempt(started_at=started, outcome=outcome)
        roll = rng.random()
        refunded = price if roll < 0.03 else (price / 4).quantize(Decimal("0.01")) if roll < 0.13 else ZERO
        outage = Decimal(str(rng.choice(OUTAGES_H))) if reason == "server_outage" else Decimal(0)
        pool.append((storefront, {
            "price": price,
            "currency": "USD",
            "payment_method": rng.choice(PAYMENT_METHODS),
            "plan_months": rng.choice(PLAN_MONTHS),
            "devices": rng.choice((1, 1, 1, 2, 3)),
            "purchased_at": purchased,
            "requested_at": requested,
            "reason": reason,
            # A microsecond apart: no two of the million are the same facts.
            "as_of": as_of + timedelta(microseconds=i),
            "delivered_at": delivered,
            "refunded_so_far": refunded,
            "fix_attempt": fix,
            "outage_hours": outage,
        }))
    return pool


def outcome_coverage(pool: list[tuple[int, dict]], policies: tuple[Policy, Policy]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter] = {policy.storefront: Counter() for policy in policies}
    for storefront, kwargs in pool:
        policy = policies[storefront]
        counts[policy.storefront][decide(Facts(**kwargs), policy).outcome] += 1
    return {slug: dict(sorted(counter.items())) for slug, counter in counts.items()}


@contextmanager
def one_cpu():
    """Pin this process to one CPU for the timing (a decision uses one core), then give the others back."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    allowed = os.sched_getaffinity(0)
    cpu = max(allowed)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, allowed)


def _build(rows: list[tuple[Policy, tuple]]) -> list[tuple[Facts, Policy]]:
    return [(Facts(*values), policy) for policy, values in rows]


def _decide_all(built: list[tuple[Facts, Policy]]) -> None:
    for facts, policy in built:
        decide(facts, policy)


def _build_and_decide(rows: list[tuple[Policy, tuple]]) -> None:
    for policy, values in rows:
        decide(Facts(*values), policy)


def _timed(function, argument) -> tuple[float, object]:
    # As timeit does: without the cyclic collector, which would otherwise walk the million facts
    # held in memory again and again while the loop allocates, and time that instead of the loop.
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        result = function(argument)
        return time.perf_counter() - started, result
    finally:
        gc.enable()


def run(policies: tuple[Policy, Policy], *, quick: bool = False, runs: int = RUNS, log=print) -> dict:
    n = MILLION // 10 if quick else MILLION
    started = time.perf_counter()
    pool = varied_facts(n)
    # The field values in order, not keyword dicts: a million dicts would take a gigabyte.
    names = [field.name for field in dataclasses.fields(Facts)]
    rows = [(policies[storefront], tuple(kwargs[name] for name in names)) for storefront, kwargs in pool]
    generated_seconds = time.perf_counter() - started
    coverage = outcome_coverage(pool[:COVERAGE_SAMPLE], policies)
    del pool
    log(f"  engine: {n:,} distinct facts generated in {generated_seconds:.1f} s (not timed); "
        f"{runs} rounds of build / decide / build+decide")
    build, decide_only, both = [], [], []
    with one_cpu() as cpu:
        _decide_all(_build(rows[:10_000]))  # warm-up
        for _ in range(runs):
            seconds, built = _timed(_build, rows)
            build.append(seconds)
            decide_only.append(_timed(_decide_all, built)[0])
            del built
            both.append(_timed(_build_and_decide, rows)[0])
    scale = MILLION / n
    build_median = statistics.median(build) * scale
    decide_median = statistics.median(decide_only) * scale
    both_median = statistics.median(both) * scale
    return {
        "facts": n,
        "distinct": True,
        "million_measured": n == MILLION,
        "runs": runs,
        "cpu": cpu,
        "generated_seconds": round(generated_seconds, 2),
        "baseline_build_million_seconds": round(build_median, 2),
        "decide_million_seconds": round(decide_median, 2),
        "decide_million_min_seconds": round(min(decide_only) * scale, 2),
        "build_and_decide_million_seconds": round(both_median, 2),
        "ratio_decide_to_baseline": round(decide_median / build_median, 2),
        "decisions_per_second": round(MILLION / decide_median),
        "target_million_seconds": TARGET_SECONDS,
        "ratio_to_target": round(decide_median / TARGET_SECONDS, 3),
        "meets_target": decide_median < TARGET_SECONDS,
        "outcomes_in_sample": coverage,
    }


def report(result: dict, log=print) -> None:
    how = "measured" if result["million_measured"] else f"EXTRAPOLATED from {result['facts']:,} facts"
    pinned = f"CPU {result['cpu']}" if result["cpu"] is not None else "not pinned"
    log(f"  1,000,000 distinct facts, decide() alone: {result['decide_million_seconds']:.2f} s median of "
        f"{result['runs']} (min {result['decide_million_min_seconds']:.2f} s, {how}, {pinned}); target < "
        f"{result['target_million_seconds']:.0f} s -> ratio to target {result['ratio_to_target']:.3f} "
        f"[{'PASS' if result['meets_target'] else 'FAIL'}]")
    log(f"  baseline, building the same Facts without deciding: {result['baseline_build_million_seconds']:.2f} s; "
        f"ratio decide/baseline {result['ratio_decide_to_baseline']:.2f}")
    log(f"  building and deciding in one loop: {result['build_and_decide_million_seconds']:.2f} s; "
        f"{result['decisions_per_second']:,} decisions per second (decide alone)")
    for slug, outcomes in result["outcomes_in_sample"].items():
        log(f"  outcomes over the first {COVERAGE_SAMPLE:,} facts, {slug}: "
            + ", ".join(f"{name} {count}" for name, count in outcomes.items()))


def shipped_policies_without_database() -> tuple[Policy, Policy]:
    """The two policies as the data migration ships them, built from its data (no database needed)."""
    import importlib

    from orders.models import Storefront
    from policies.models import PolicyVersion

    shipped = importlib.import_module("policies.migrations.0002_shipped_policies")
    versions = {}
    for data in shipped.VERSIONS:
        fields = {key: value for key, value in data.items() if key != "storefront"}
        versions[data["storefront"]] = PolicyVersion(storefront=Storefront(slug=data["storefront"]), **fields)
    return versions["iptv-smarters-pro"].to_policy(), versions["smarters-pro"].to_policy()


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 facts, extrapolated")
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    import django

    django.setup()
    report(run(shipped_policies_without_database(), quick=args.quick, runs=args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
