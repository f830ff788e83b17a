"""A queued job of each kind the product has: every test of the job base runs on both."""

from __future__ import annotations

import pytest

from core.jobs import Job
from policies.models import PolicyDraft
from reports.backtest import start_backtest
from reports.services import export_job_start
from tests.policies.backtest_cases import END, START, version_in_force


def queued_export(user) -> Job:
    # Queued, not run: the task is sent only once the test's transaction commits, which it never does.
    return export_job_start(user=user, fmt="csv", query="state=all", filters={"state": "all"}, row_count=0)


def queued_backtest(storefront, user) -> Job:
    draft = PolicyDraft.from_version(version_in_force(storefront), version="24h", full_refund_window_hours=24)
    draft.save()
    return start_backtest(draft=draft, start=START, end=END, actor=user)


@pytest.fixture(params=["export", "backtest"])
def job(request, s0, manager, media) -> Job:
    return queued_export(manager) if request.param == "export" else queued_backtest(s0, manager)
