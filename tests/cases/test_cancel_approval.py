"""Cancelling an approval takes the authority that approved it, and a written note."""

from __future__ import annotations

from cases import services
from cases.states import State
from core.errors import Code
from tests.cases import assert_refused, fresh, last_event, later, mail_names, open_case
from tests.conftest import at

NOW = at("2026-01-02 15:00")


def test_it_lets_an_agent_cancel_an_approval_the_policy_granted_with_a_note(s0, agent, agent2, mailoutbox,
                                                                           django_capture_on_commit_callbacks):
    case = services.case_approve(case=open_case(s0), actor=agent, now=NOW)
    assert_refused(lambda: services.case_withdraw(case=case, actor=agent2, note=" ", now=later(NOW, hours=1)), case,
                   Code.NOTE_REQUIRED)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.case_withdraw(case=case, actor=agent2, note="Customer paid twice by mistake; refund via the duplicate",
                               now=later(NOW, hours=1))

    stored = fresh(case)
    assert stored.state == State.WITHDRAWN
    assert stored.approval_cancelled_by == agent2 and stored.approval_cancelled_at == later(NOW, hours=1)
    assert last_event(stored).data["approval_cancelled"].endswith(stored.order.currency)
    assert mail_names(mailoutbox) == ["Your approved refund was cancelled"]
    assert "As requested" not in mailoutbox[0].body
    assert "refund via the duplicate" in mailoutbox[0].body


def test_it_keeps_a_managers_discretionary_approval_from_an_agent(s1, agent, manager):
    case = open_case(s1, reason="technical_issue")
    case = services.case_approve(case=case, actor=manager, amount="5.00", note="Goodwill for the outage", now=NOW)

    error = assert_refused(lambda: services.case_withdraw(case=case, actor=agent, note="Customer asked",
                                                          now=later(NOW, hours=1)), case, Code.MANAGER_ONLY)
    assert "only a manager can cancel it" in error.message

    services.case_withdraw(case=case, actor=manager, note="Customer asked", now=later(NOW, hours=1))
    assert fresh(case).approval_cancelled_by == manager


def test_it_keeps_a_statutory_approval_from_an_agent_s1_statutory(s1, agent, manager):
    case = open_case(s1, reason="changed_mind")
    case = services.case_approve_statutory(case=case, actor=manager, amount="5.00", basis="14-day withdrawal right",
                                           now=NOW)

    assert_refused(lambda: services.case_withdraw(case=case, actor=agent, note="x", now=later(NOW, hours=1)), case,
                   Code.MANAGER_ONLY)


def test_it_withdraws_an_open_request_without_a_note_as_requested(s0, agent, mailoutbox,
                                                                 django_capture_on_commit_callbacks):
    case = open_case(s0)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.case_withdraw(case=case, actor=agent, now=NOW)

    stored = fresh(case)
    assert stored.state == State.WITHDRAWN and stored.approval_cancelled_at is None
    assert "As requested" in mailoutbox[0].body


def test_it_names_the_permission_an_outsider_lacks_to_withdraw(s0):
    from tests.conftest import make_user

    case = open_case(s0)
    outsider = make_user("olivia")
    error = assert_refused(lambda: services.case_withdraw(case=case, actor=outsider, now=NOW), case,
                           Code.NO_PERMISSION)
    assert "work refund cases" in error.message
