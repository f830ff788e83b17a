"""``sweep_deadlines`` over the due cases of the million-case data set, by one process.

The data set holds about a thousand due deadlines (fix windows and evidence requests). The sweep
runs inside a transaction that is rolled back afterwards, so the data set stays as built and the
next run measures the same work. Mail goes to Django's in-memory backend. That several runs at
once act exactly once is proven by tests/cases/test_sweeps.py on PostgreSQL, not here.
"""

from __future__ import annotations

import time

from django.core import mail
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

TARGET_SECONDS = 10.0
PER_THOUSAND = 1_000


class _Rollback(Exception):
    pass


def run(log=print) -> dict:
    from cases.sweeps import due_cases, sweep_deadlines

    now = timezone.now()
    due = due_cases(now=now).count()
    result: dict = {"due": due}
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        mail.outbox = []
        try:
            with transaction.atomic():
                started = time.perf_counter()
                report = sweep_deadlines(now=now)
                result["seconds"] = round(time.perf_counter() - started, 2)
                result["handled"] = report.total
                result["failed"] = len(report.failed)
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
        f"{result['target_seconds_per_thousand']:.0f} s), {result['failed']} failed  "
        f"{'PASS' if result['pass'] else 'FAIL'}  (rolled back: the data set is unchanged)")
    return 0 if result["pass"] else 1
