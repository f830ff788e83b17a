"""Reopening a denied or resolved case when the customer answers."""

from __future__ import annotations

from cases import services
from cases.models import CaseEvent
from cases.states import State
from core.errors import Code
from tests.cases import BEFORE_OUTAGE, assert_refused, fresh, last_event, later, open_case, transitions
from tests.conftest import at, make_user

NOW = at("2026-01-02 15:00")


def denied_case(s0, agent):
    case = open_case(s0, reason="setup_difficulty")
    return services.case_deny(case=case, actor=agent, reason="policy_exclusion", now=NOW)


def test_it_reopens_a_denied_case_with_a_note_and_judges_it_again(s0, agent):
    case = denied_case(s0, agent)

    reopened = services.case_reopen(case=case, actor=agent, note="Customer says setup was not the problem",
                                    now=later(NOW, hours=2))

    stored = fresh(reopened)
    assert stored.state == State.REQUESTED
    assert (stored.resolution, stored.deny_reason) == ("", "")
    assert transitions(stored)[-2:] == ["deny", "reopen"]
    event = last_event(stored)
    assert event.from_state == State.DENIED and event.to_state == State.REQUESTED
    assert event.comment == "Customer says setup was not the problem"
    assert event.visibility == CaseEvent.Visibility.INTERNAL
    assert stored.decided_at == later(NOW, hours=2)
    assert stored.decision["outcome"] == "deny"  # re-evaluated: the reason still excludes it


def test_it_needs_a_note_to_reopen(s0, agent):
    case = denied_case(s0, agent)
    assert_refused(lambda: services.case_reopen(case=case, actor=agent, note="  ", now=later(NOW, hours=1)), case,
                   Code.NOTE_REQUIRED)


def test_it_refuses_someone_who_cannot_work_cases(s0, agent):
    case = denied_case(s0, agent)
    outsider = make_user("olivia")
    assert_refused(lambda: services.case_reopen(case=case, actor=outsider, note="x", now=later(NOW, hours=1)), case,
                   Code.NO_PERMISSION)


def test_it_refuses_to_reopen_an_open_or_paid_case(s0, agent):
    case = open_case(s0)
    assert_refused(lambda: services.case_reopen(case=case, actor=agent, note="x", now=NOW), case, Code.WRONG_STATE)


def test_it_keeps_a_case_closed_by_an_extension_closed_s0_outage(s0, agent):
    case = open_case(s0, reason="server_outage", outage_hours=72, purchased_at=BEFORE_OUTAGE)
    case = services.case_extend(case=case, actor=agent, bonus_days=2, now=later(case.requested_at, hours=1))

    error = assert_refused(lambda: services.case_reopen(case=case, actor=agent, note="More outage",
                                                        now=later(case.requested_at, hours=2)),
                           case, Code.POLICY_BLOCKS)
    assert "already extended" in error.message


def test_it_refuses_to_reopen_when_the_order_has_another_open_case(s0, agent):
    case = denied_case(s0, agent)
    other = services.case_create(order=case.order, reason="other", requested_at=later(NOW, hours=1),
                                 now=later(NOW, hours=1))
    assert other.state == State.REQUESTED

    error = assert_refused(lambda: services.case_reopen(case=case, actor=agent, note="x", now=later(NOW, hours=2)),
                           case, Code.POLICY_BLOCKS)
    assert "another open case" in error.message


def test_it_reopens_a_case_whose_fix_did_not_hold(s0, agent):
    case = open_case(s0, reason="technical_issue")
    case = services.case_start_fix(case=case, actor=agent, now=NOW)
    case = services.case_fix_succeeded(case=case, actor=agent, now=later(NOW, hours=1))

    reopened = services.case_reopen(case=case, actor=agent, note="Streams dropped again", now=later(NOW, hours=3))

    assert fresh(reopened).state == State.REQUESTED
