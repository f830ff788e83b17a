"""Background jobs of the policies app (run in-process when no broker is configured)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="policies.run_backtest")
def run_backtest(backtest_id: int) -> str:
    from cases.backtest import run_backtest as run  # the replay reads cases; policies does not import them

    run_ = run(backtest_id)
    return "claimed elsewhere" if run_ is None else run_.status
