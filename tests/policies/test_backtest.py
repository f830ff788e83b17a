"""The policy backtest: a draft replayed over closed cases with the engine changes exactly what it should."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from policies.models import PolicyDraft, PolicyVersion
from policies.selectors import policy_version_for
from reports.backtest import run_backtest, start_backtest
from reports.models import Backtest
from rules.engine import Outcome
from tests.conftest import at
from tests.policies.backtest_cases import END, PURCHASED, START, closed_case, version_in_force

pytestmark = pytest.mark.django_db

def run(draft, start=START, end=END) -> Backtest:
    result = run_backtest(start_backtest(draft=draft, start=start, end=end).pk)
    assert result.status == Backtest.Status.DONE, result.error
    return result


def test_it_changes_nothing_for_a_draft_identical_to_the_version_in_force(history, s0):
    draft = PolicyDraft.from_version(version_in_force(s0), version="same")
    draft.full_clean()
    draft.save()
    result = run(draft)
    assert result.total == 5  # January's closed cases of this storefront, and no others
    assert result.changed == 0
    assert result.summary["transitions"] == [] and result.summary["sample"] == []
    money = {row["currency"]: row for row in result.summary["money"]}
    assert money["USD"]["difference"] == "0.00"
    assert money["USD"]["before"] == money["USD"]["after"] != "0.00"


def test_it_changes_exactly_the_cases_a_shorter_window_reaches(history, s0):
    """S0-WINDOW at 24 h instead of 48 h: requests made 30 h after purchase are prorated now."""
    draft = PolicyDraft.from_version(version_in_force(s0), version="24h", full_refund_window_hours=24)
    draft.save()
    result = run(draft)
    assert result.total == 5
    assert result.changed == 2
    assert result.summary["transitions"] == [
        {"from": Outcome.FULL_REFUND, "to": Outcome.PARTIAL_REFUND, "count": 2}
    ]
    changed = {row["case_id"]: row for row in result.summary["sample"]}
    assert set(changed) == {history["paid_late"].pk, history["withdrawn_late"].pk}
    # 3 months from delivery (5 Jan 10:05) are 90 days; 2 of them started by the request: 88/90 of 59.99.
    for row in changed.values():
        assert (row["before_amount"], row["after_amount"], row["currency"]) == ("59.99", "58.65", "USD")
    money = {row["currency"]: row for row in result.summary["money"]}
    assert money["USD"]["difference"] == "-2.68"


def test_it_judges_a_paid_case_as_it_stood_before_its_own_payout(history, s0):
    """The paid cases count as full refunds before (not "nothing left"), as their decision did."""
    draft = PolicyDraft.from_version(version_in_force(s0), version="same")
    draft.save()
    result = run(draft)
    assert result.summary["outcomes_before"] == {
        Outcome.FULL_REFUND: 3, Outcome.PARTIAL_REFUND: 1, Outcome.DENY: 1,  # both payouts, the late withdrawal
    }
    assert history["paid_late"].decision["outcome"] == Outcome.FULL_REFUND


def test_it_finds_a_removed_exclusion(history, s0):
    version = version_in_force(s0)
    exclusions = {k: v for k, v in version.exclusions.items() if k != "changed_mind"}
    draft = PolicyDraft.from_version(version, version="mind", exclusions=exclusions)
    draft.save()
    result = run(draft)
    assert [(r["case_id"], r["before"], r["after"]) for r in result.summary["sample"]] == [
        (history["excluded"].pk, Outcome.DENY, Outcome.FULL_REFUND)
    ]
    money = {row["currency"]: row for row in result.summary["money"]}
    assert money["USD"]["difference"] == "59.99"


def test_it_replays_the_draft_as_it_was_when_the_run_was_asked(history, s0):
    draft = PolicyDraft.from_version(version_in_force(s0), version="24h", full_refund_window_hours=24)
    draft.save()
    queued = start_backtest(draft=draft, start=START, end=END)
    draft.full_refund_window_hours = 48
    draft.save()
    assert run_backtest(queued.pk).changed == 2
    queued.refresh_from_db()
    assert not queued.is_current


def test_it_runs_a_job_once_when_it_is_delivered_twice(history, s0):
    draft = PolicyDraft.from_version(version_in_force(s0), version="same")
    draft.save()
    queued = start_backtest(draft=draft, start=START, end=END)
    assert run_backtest(queued.pk) is not None
    assert run_backtest(queued.pk) is None


def test_it_leaves_cases_and_versions_alone(history, s0):
    """A draft is never in force: the version picked for any purchase and every decision stay the same."""
    case = history["open_late"]
    before = case.evaluate(as_of=case.requested_at)
    version = version_in_force(s0)
    PolicyDraft.from_version(version, version="1h", full_refund_window_hours=1).save()
    run(PolicyDraft.objects.get(version="1h"))
    for moment in (PURCHASED, at("2030-01-01 00:00")):
        assert policy_version_for(storefront_id=s0.pk, purchased_at=moment) == version
    case.refresh_from_db()
    assert case.evaluate(as_of=case.requested_at) == before
    assert PolicyVersion.objects.filter(storefront=s0).count() == 1


def test_it_refuses_an_empty_or_reversed_period(s0):
    draft = PolicyDraft.from_version(version_in_force(s0), version="same")
    draft.save()
    with pytest.raises(ValueError):
        start_backtest(draft=draft, start=END, end=START)


def test_it_backtests_from_the_command_line(history, s0):
    draft = PolicyDraft.from_version(version_in_force(s0), version="24h", full_refund_window_hours=24)
    draft.save()
    out = StringIO()
    call_command("backtest_policy", str(draft.pk), "--from", "2026-01-01", "--to", "2026-01-31", "--json",
                 stdout=out, stderr=StringIO())
    summary = json.loads(out.getvalue())
    assert (summary["total"], summary["changed"]) == (5, 2)
    assert Backtest.objects.get(pk=summary["backtest"]).status == Backtest.Status.DONE
    text = StringIO()
    call_command("backtest_policy", str(draft.pk), "--from", "2026-01-01", "--to", "2026-01-31", stdout=text,
                 stderr=StringIO())
    assert "decisions that change: 2" in text.getvalue()
    assert "Full refund -> Partial refund: 2" in text.getvalue()


def test_it_takes_in_the_whole_of_the_last_day_named_by_to(s0, agent, manager):
    # Closed at 22:05 on 31 January: "--to 2026-01-31" names that day, so the case is replayed.
    closed_case(s0, agent=agent, manager=manager, hours_after_purchase=2, close="withdrawn",
                purchased_at=at("2026-01-31 19:00"))
    draft = PolicyDraft.from_version(version_in_force(s0), version="same")
    draft.save()
    out = StringIO()
    call_command("backtest_policy", str(draft.pk), "--from", "2026-01-31", "--to", "2026-01-31", "--json",
                 stdout=out, stderr=StringIO())
    summary = json.loads(out.getvalue())
    assert summary["total"] == 1
    assert summary["period_end"] == "2026-02-01T00:00:00+00:00"
    words = StringIO()
    call_command("backtest_policy", str(draft.pk), "--from", "2026-01-31", "--to", "2026-01-31", stdout=words,
                 stderr=StringIO())
    assert "from 31 Jan 2026, 00:00 up to 1 Feb 2026, 00:00" in words.getvalue()


@pytest.mark.parametrize("args", [["999999"], ["{draft}", "--from", "yesterday"],
                                  ["{draft}", "--from", "2026-02-01", "--to", "2026-01-01"]])
def test_it_refuses_bad_command_input_with_a_message(s0, args):
    draft = PolicyDraft.from_version(version_in_force(s0), version="same")
    draft.save()
    with pytest.raises(CommandError):
        call_command("backtest_policy", *[a.format(draft=draft.pk) for a in args], stdout=StringIO(),
                     stderr=StringIO())


def test_it_validates_a_draft_with_the_versions_own_rules(s0):
    from django.core.exceptions import ValidationError

    version = version_in_force(s0)
    with pytest.raises(ValidationError) as error:
        PolicyDraft.from_version(version, version="bad", exclusions={"no_such_reason": "X"}).full_clean()
    assert "exclusions" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        PolicyDraft.from_version(version, version="bad", arrival_card_min=50, arrival_card_max=10).full_clean()
    with pytest.raises(ValidationError) as error:
        PolicyDraft.from_version(version, version=version.version).full_clean()  # the label is taken
    assert "version" in error.value.message_dict or "__all__" in error.value.message_dict
