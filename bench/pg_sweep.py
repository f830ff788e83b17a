"""``sweep_deadlines`` over the due cases of the million-case data set, by one process or several at once.

The data set holds about a thousand due deadlines (fix windows and evidence requests). Each sweep
runs inside a transaction that is rolled back afterwards, so the data set stays as built and the
next run measures the same work. Mail goes to Django's in-memory backend.

With ``--processes N`` (run on its own), N processes start the sweep at the same moment. Each
holds the row locks of what it handled until all have finished, then rolls back, so the others
skip those cases as they would skip committed ones: the handled counts must add up to the due
count exactly (each case once), and the wall time is that of the slowest process.

    BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/COPY .venv/bin/python bench/pg_sweep.py [--processes 4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 10.0
PER_THOUSAND = 1_000


class _Rollback(Exception):
    pass


def _count(execute, sql, params, many, context):
    _count.calls += 1
    return execute(sql, params, many, context)


def run(log=print, *, start_at: float | None = None, before_rollback=None) -> dict:
    from django.core import mail
    from django.db import connection, transaction
    from django.test.utils import override_settings
    from django.utils import timezone

    from cases.sweeps import due_cases, sweep_deadlines

    now = timezone.now()
    due = due_cases(now=now).count()
    result: dict = {"due": due}
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        mail.outbox = []
        if start_at is not None:  # several processes: start together
            time.sleep(max(start_at - time.time(), 0))
        try:
            with transaction.atomic(), connection.execute_wrapper(_count):
                _count.calls = 0
                started = time.perf_counter()
                report = sweep_deadlines(now=now)
                result["seconds"] = round(time.perf_counter() - started, 2)
                result["queries"] = _count.calls
                result["handled"] = report.total
                result["failed"] = len(report.failed)
                if before_rollback is not None:
                    before_rollback(result)
                raise _Rollback
        except _Rollback:
            pass
    per_thousand = result["seconds"] * PER_THOUSAND / max(result["handled"], 1)
    result["seconds_per_thousand"] = round(per_thousand, 2)
    result["target_seconds_per_thousand"] = TARGET_SECONDS
    result["pass"] = per_thousand < TARGET_SECONDS and result["failed"] == 0
    return result


def report(result: dict, log=print) -> int:
    log(f"\n  sweep_deadlines, one process: {result['handled']:,} of {result['due']:,} due cases handled in "
        f"{result['seconds']:.2f} s ({result['seconds_per_thousand']:.2f} s per 1,000; target < "
        f"{result['target_seconds_per_thousand']:.0f} s), {result['queries']:,} queries, {result['failed']} failed  "
        f"{'PASS' if result['pass'] else 'FAIL'}  (rolled back: the data set is unchanged)")
    return 0 if result["pass"] else 1


def run_parallel(processes: int) -> dict:
    """``processes`` sweeps at once, each in its own interpreter; their handled counts must add up to the due count."""
    start_at = time.time() + 8.0  # time for every child to import Django and connect
    children = [
        subprocess.Popen([sys.executable, __file__, "--child", str(start_at)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    # Each child reports, then keeps its locks until every one has: a run that rolled back early
    # would make its cases due again for the others, which a committed run never does.
    results = [json.loads(child.stdout.readline()) for child in children]
    for child in children:
        child.communicate("done\n")
    due = results[0]["due"]
    handled = sum(r["handled"] for r in results)
    wall = max(r["seconds"] for r in results)
    per_thousand = wall * PER_THOUSAND / max(handled, 1)
    return {
        "processes": processes, "due": due, "handled": handled, "handled_each": [r["handled"] for r in results],
        "failed": sum(r["failed"] for r in results), "seconds": wall, "seconds_per_thousand": round(per_thousand, 2),
        "exactly_once": handled == due, "pass": handled == due and per_thousand < TARGET_SECONDS,
    }


def report_parallel(result: dict, log=print) -> int:
    log(f"  sweep_deadlines, {result['processes']} processes at once: {result['handled']:,} of {result['due']:,} due "
        f"cases handled (each: {', '.join(map(str, result['handled_each']))}) in {result['seconds']:.2f} s "
        f"({result['seconds_per_thousand']:.2f} s per 1,000), {result['failed']} failed, "
        f"{'each case once' if result['exactly_once'] else 'NOT EXACTLY ONCE'}  {'PASS' if result['pass'] else 'FAIL'}")
    return 0 if result["pass"] else 1


def _report_and_wait(result: dict) -> None:
    print(json.dumps(result), flush=True)
    sys.stdin.readline()


def _setup() -> None:
    from bench.pg_run import DEFAULT_URL, setup_django

    # Not migrated here: the child processes of --processes set up at once, on a database the
    # parent (or make bench-pg) already prepared.
    setup_django(os.environ.get("BENCH_PG_URL", DEFAULT_URL), migrate=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.processes > 1 and args.child is None:
        return report_parallel(run_parallel(args.processes))
    _setup()
    if args.child is not None:
        run(start_at=args.child, before_rollback=_report_and_wait)
        return 0
    return report(run())


if __name__ == "__main__":
    sys.exit(main())
