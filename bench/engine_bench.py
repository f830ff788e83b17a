"""(a) The pure policy engine: decisions per second over varied facts, and the time for a million.

The baseline is the same loop building the same ``Facts`` without deciding, measured in the same
run, so the ratio says what ``decide`` itself costs on this machine.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from policies.engine import PAYMENT_METHODS, PLAN_MONTHS, REASONS, ZERO, Facts, FixAttempt, Policy, decide

MILLION = 1_000_000
TARGET_SECONDS = 20.0  # a million decisions
FULL_RUN_LIMIT_SECONDS = 60.0  # above this estimate the million is extrapolated, not run
POOL_SIZE = 4096  # a power of two: the loop picks facts with a mask, not a modulo
CALIBRATION = 100_000

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
            "as_of": as_of,
            "delivered_at": delivered,
            "refunded_so_far": refunded,
            "fix_attempt": fix,
            "outage_hours": outage,
        }))
    return pool


def _decide_loop(pool: list[tuple[int, dict]], policies: tuple[Policy, Policy], n: int) -> float:
    mask = len(pool) - 1
    started = time.perf_counter()
    for i in range(n):
        storefront, kwargs = pool[i & mask]
        decide(Facts(**kwargs), policies[storefront])
    return time.perf_counter() - started


def _baseline_loop(pool: list[tuple[int, dict]], policies: tuple[Policy, Policy], n: int) -> float:
    mask = len(pool) - 1
    started = time.perf_counter()
    for i in range(n):
        storefront, kwargs = pool[i & mask]
        _ = (Facts(**kwargs), policies[storefront])
    return time.perf_counter() - started


def outcome_coverage(pool: list[tuple[int, dict]], policies: tuple[Policy, Policy]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter] = {policy.storefront: Counter() for policy in policies}
    for storefront, kwargs in pool:
        policy = policies[storefront]
        counts[policy.storefront][decide(Facts(**kwargs), policy).outcome] += 1
    return {slug: dict(sorted(counter.items())) for slug, counter in counts.items()}


def run(policies: tuple[Policy, Policy], *, quick: bool = False, log=print) -> dict:
    pool = varied_facts(POOL_SIZE)
    coverage = outcome_coverage(pool, policies)
    _decide_loop(pool, policies, 10_000)  # warm-up

    calibration = CALIBRATION // 10 if quick else CALIBRATION
    calibration_seconds = _decide_loop(pool, policies, calibration)
    estimate = calibration_seconds * MILLION / calibration
    full = not quick and estimate <= FULL_RUN_LIMIT_SECONDS
    n = MILLION if full else calibration
    log(f"  engine: calibration {calibration:,} decisions in {calibration_seconds:.2f} s; "
        f"{'running the full million' if full else 'extrapolating the million'}")

    decide_seconds = _decide_loop(pool, policies, n) if full else calibration_seconds
    baseline_seconds = _baseline_loop(pool, policies, n)
    million_seconds = decide_seconds * MILLION / n
    result = {
        "decisions_timed": n,
        "million_measured": full,
        "decide_loop_seconds": round(decide_seconds, 3),
        "baseline_loop_seconds": round(baseline_seconds, 3),
        "decisions_per_second": round(n / decide_seconds),
        "decide_only_per_second": round(n / max(decide_seconds - baseline_seconds, 1e-9)),
        "million_seconds": round(million_seconds, 2),
        "ratio_decide_to_baseline": round(decide_seconds / baseline_seconds, 2),
        "target_million_seconds": TARGET_SECONDS,
        "ratio_to_target": round(million_seconds / TARGET_SECONDS, 3),
        "meets_target": million_seconds < TARGET_SECONDS,
        "facts_pool": POOL_SIZE,
        "outcomes_in_pool": coverage,
    }
    return result


DISTINCT_RUNS = 3


def distinct_facts(pool: list[tuple[int, dict]], policies: tuple[Policy, Policy], n: int) -> list[tuple]:
    """``n`` distinct Facts objects (each pool entry with its own moment, a microsecond apart): unlike
    the reused pool, they do not stay in the CPU cache."""
    mask = len(pool) - 1
    out = []
    for i in range(n):
        storefront, kwargs = pool[i & mask]
        out.append((Facts(**{**kwargs, "as_of": kwargs["as_of"] + timedelta(microseconds=i)}), policies[storefront]))
    return out


def run_distinct(policies: tuple[Policy, Policy], *, n: int = MILLION, runs: int = DISTINCT_RUNS) -> dict:
    """decide() alone over ``n`` distinct, prebuilt facts: median and min of ``runs`` runs."""
    pool = varied_facts(POOL_SIZE)
    started = time.perf_counter()
    facts = distinct_facts(pool, policies, n)
    build_seconds = time.perf_counter() - started
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        for one, policy in facts:
            decide(one, policy)
        timings.append(time.perf_counter() - started)
    median = sorted(timings)[len(timings) // 2]
    return {"facts": n, "runs": runs, "build_seconds": round(build_seconds, 2),
            "decide_median_seconds": round(median * MILLION / n, 2),
            "decide_min_seconds": round(min(timings) * MILLION / n, 2), "target_seconds": 10.0,
            "meets_target": median * MILLION / n < 10.0}


def report_distinct(result: dict, log=print) -> None:
    log(f"  1,000,000 distinct facts, decide() alone: median {result['decide_median_seconds']:.2f} s, min "
        f"{result['decide_min_seconds']:.2f} s over {result['runs']} runs (facts built in "
        f"{result['build_seconds']:.2f} s); target < 10 s [{'PASS' if result['meets_target'] else 'FAIL'}]")


def report(result: dict, log=print) -> None:
    how = "measured" if result["million_measured"] else (
        f"EXTRAPOLATED from {result['decisions_timed']:,} decisions")
    log(f"  decisions per second (facts built + decided): {result['decisions_per_second']:,}")
    log(f"  decide() alone, baseline subtracted:          {result['decide_only_per_second']:,} per second")
    log(f"  1,000,000 decisions: {result['million_seconds']:.2f} s ({how}); target < "
        f"{result['target_million_seconds']:.0f} s -> ratio to target {result['ratio_to_target']:.3f} "
        f"[{'PASS' if result['meets_target'] else 'FAIL'}]")
    log(f"  baseline (same loop, facts built, no decision): {result['baseline_loop_seconds']:.2f} s for "
        f"{result['decisions_timed']:,}; ratio decide/baseline {result['ratio_decide_to_baseline']:.2f}")
    for slug, outcomes in result["outcomes_in_pool"].items():
        log(f"  outcomes over the {result['facts_pool']:,} varied facts, {slug}: "
            + ", ".join(f"{name} {count}" for name, count in outcomes.items()))
