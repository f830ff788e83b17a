"""One transition core: the deadline sweep and the one-case services apply a transition with the same
function, at the moment they are given, and record the same thing."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from django.db import transaction

from cases import conditions, services
from cases.checks import transition_error
from cases.models import CaseEvent, OutboxMessage, RefundCase
from cases.services.base import apply_transition, case_columns, lock_case, run_transition
from cases.states import State
from cases.sweeps import EVIDENCE_EXPIRED, FIX_WINDOW_EXPIRED, sweep_deadlines
from core.errors import Code
from tests.cases import WITHIN_WINDOW, fresh, later, open_case, row
from tests.conftest import make_order

STARTED = later(WITHIN_WINDOW, hours=1)
DEADLINE = later(STARTED, hours=48)
# Columns that name the row rather than say what happened to it.
OWN_COLUMNS = {"id", "number", "portal_key", "order_id", "created_at", "updated_at"}


def twins(storefront, agent, *, reason: str) -> tuple[RefundCase, RefundCase]:
    """Two cases on the same facts: one customer, two alike orders, the same requests at the same moments."""
    return tuple(
        open_case(storefront, reason=reason, order=make_order(storefront, email="twin@example.com"))
        for _ in range(2)
    )


def what_happened(case: RefundCase) -> dict:
    """The case row, its history and its mails, without what names this case rather than another."""
    case = fresh(case)
    names = {case.number: "RC-?", case.order.number: "T-?"}

    def plain(text: str) -> str:
        for name, placeholder in names.items():
            text = text.replace(name, placeholder)
        return re.sub(r"/portal/c/[^/]+/", "/portal/c/?/", text)  # each link is a secret of its own

    return {
        "case": {column: value for column, value in row(RefundCase, case.pk).items() if column not in OWN_COLUMNS},
        "events": list(case.events.order_by("created_at", "id").values(
            "kind", "transition", "from_state", "to_state", "actor_id", "actor_label", "created_at", "decision",
            "comment", "visibility", "data")),
        "mails": [(message.template, message.to, plain(message.subject), plain(message.text_body),
                   plain(message.html_body))
                  for message in OutboxMessage.objects.filter(case=case).order_by("created_at", "id")],
    }


def test_it_records_an_expired_fix_window_alike_from_the_sweep_and_from_one_case(s0, agent):
    swept, clicked = twins(s0, agent, reason="technical_issue")
    for case in (swept, clicked):
        services.case_start_fix(case=case, actor=agent, now=STARTED)
    at = later(DEADLINE, minutes=1)

    run_transition(case=clicked.pk, actor=None, step=FIX_WINDOW_EXPIRED, now=at, expected_state=State.AWAITING_FIX)
    report = sweep_deadlines(now=at)

    assert report.fix_windows_expired == [swept.number]
    swept_case = what_happened(swept)
    assert swept_case == what_happened(clicked)
    assert swept_case["case"]["state"] == State.REQUESTED
    assert swept_case["case"]["flagged"] and swept_case["case"]["fix_window_missed"]
    assert swept_case["events"][-1]["transition"] == "fix_window_expired"
    assert [mail[0] for mail in swept_case["mails"]][-1] == "fix_window_expired"


def test_it_records_an_overdue_evidence_request_alike_from_the_sweep_and_from_one_case(s0, agent):
    swept, clicked = twins(s0, agent, reason="other")
    for case in (swept, clicked):
        services.case_request_evidence(case=case, actor=agent, message="Send a screenshot.", now=STARTED)
    due = fresh(swept).evidence_due_at
    assert sweep_deadlines(now=later(due, minutes=1)).evidence_reminders == [swept.number, clicked.number]
    at = later(due, days=30)

    run_transition(case=clicked.pk, actor=None, step=EVIDENCE_EXPIRED, now=at, expected_state=State.EVIDENCE_REQUESTED)
    report = sweep_deadlines(now=at)

    assert report.evidence_expired == [swept.number]
    swept_case = what_happened(swept)
    assert swept_case == what_happened(clicked)
    assert swept_case["case"]["state"] == State.REQUESTED and swept_case["case"]["flagged"]
    assert [event["kind"] for event in swept_case["events"]][-2:] == [CaseEvent.Kind.REMINDER,
                                                                      CaseEvent.Kind.TRANSITION]


def test_it_applies_a_transition_in_memory_and_says_what_to_write(s0, agent):
    case = services.case_start_fix(case=open_case(s0, reason="technical_issue"), actor=agent, now=STARTED)
    before = row(RefundCase, case.pk)

    with transaction.atomic():
        locked = lock_case(case.pk)
        applied = apply_transition(locked, step=FIX_WINDOW_EXPIRED, actor=None, now=DEADLINE)

        assert row(RefundCase, case.pk) == before
        assert not CaseEvent.objects.filter(case=case, transition="fix_window_expired").exists()
    assert applied.case is locked
    assert applied.changes == {
        "state": State.REQUESTED, "fix_outcome": "unresolved", "next_deadline": None, "flagged": True,
        "flag_reason": locked.flag_reason, "decision": locked.decision, "decided_at": DEADLINE,
        "fix_window_missed": True,
    }
    assert [(event.pk, event.kind, event.transition, event.created_at) for event in applied.events] == [
        (None, CaseEvent.Kind.TRANSITION, "fix_window_expired", DEADLINE)]
    assert applied.mail is not None and applied.mail.template == "fix_window_expired"


def test_it_refuses_before_changing_anything_in_memory(s0, agent):
    case = services.case_start_fix(case=open_case(s0, reason="technical_issue"), actor=agent, now=STARTED)

    with transaction.atomic():
        locked = lock_case(case.pk)
        columns = case_columns(locked)
        with pytest.raises(services.CaseActionError) as refused:
            apply_transition(locked, step=FIX_WINDOW_EXPIRED, actor=None, now=later(DEADLINE, seconds=-1))

    assert refused.value.code == Code.POLICY_BLOCKS
    assert case_columns(locked) == columns


# --- the moment is an argument --------------------------------------------------------------------


def answers(case: RefundCase, name: str, user, moments: list[datetime]) -> list[str | None]:
    return [getattr(transition_error(case=case, user=user, name=name, now=now), "message", None) for now in moments]


def test_it_judges_one_case_at_two_moments_without_touching_it(s0, agent):
    case = services.case_start_fix(case=open_case(s0, reason="technical_issue"), actor=agent, now=STARTED)
    case = fresh(case)
    stored, columns, attributes = row(RefundCase, case.pk), case_columns(case), set(vars(case))
    early, late = later(DEADLINE, seconds=-1), DEADLINE

    assert [conditions.fix_window_over(case, now) for now in (late, early, late)] == [True, False, True]
    expiry = answers(case, "fix_window_expired", None, [early, late, early])
    approval = answers(case, "approve", agent, [early, later(STARTED, hours=1), late])

    assert expiry == ["The fix window has not run out yet.", None, "The fix window has not run out yet."]
    # The sentence is worded at the moment asked: the window's time left, then nothing against it.
    assert "still open for 0 h 00 min" in approval[0] and "still open for 47 h 00 min" in approval[1]
    assert approval[2] is None
    assert row(RefundCase, case.pk) == stored
    assert case_columns(case) == columns
    assert set(vars(case)) - attributes <= {"_decision_cache"}  # the engine's answers, by moment; nothing else


def test_it_acts_at_the_moment_given_whatever_the_clock(s0, agent):
    """A service's check and its action use the ``now`` it is given: the same click at two moments."""
    case = services.case_start_fix(case=open_case(s0, reason="technical_issue"), actor=agent, now=STARTED)

    with pytest.raises(services.CaseActionError) as early:
        services.case_approve(case=case, actor=agent, now=later(DEADLINE, seconds=-1))
    approved = services.case_approve(case=case, actor=agent, now=DEADLINE)

    assert early.value.code == Code.POLICY_BLOCKS and "still open" in early.value.message
    assert approved.state == State.APPROVED and approved.decided_at == DEADLINE


def test_it_keeps_the_transition_conditions_away_from_the_fsm_s_own_call():
    """django-fsm would call a condition with the case alone; each is declared for ``cases.checks`` to
    call with a moment, and the FSM checks only the source state."""
    for transition in RefundCase._meta.get_field("state").get_all_transitions(RefundCase):
        assert transition.conditions == []
        assert transition.permission is None
        assert set(transition.custom) == {"conditions", "permission"}
