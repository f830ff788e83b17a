"""Refusals for the wrong role, the wrong state or bad input: a clear error and nothing changed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cases import services
from cases.models import CaseEvent, RefundCase
from cases.states import OPEN_STATES, State
from core.errors import Code
from tests.cases import (
    BEFORE_OUTAGE,
    WITHIN_WINDOW,
    assert_refused,
    drive,
    fresh,
    last_event,
    later,
    mail_names,
    open_case,
    transitions,
)
from tests.conftest import at, make_order

NOW = at("2026-01-02 15:00")

# Every transition service, as (state it starts from, the call). Calls take the case and the actor.
ACTIONS = {
    "start_fix": (State.REQUESTED, lambda case, actor: services.case_start_fix(case=case, actor=actor, now=NOW)),
    "fix_succeeded": (State.AWAITING_FIX,
                      lambda case, actor: services.case_fix_succeeded(case=case, actor=actor, now=NOW)),
    "fix_failed": (State.AWAITING_FIX, lambda case, actor: services.case_fix_failed(case=case, actor=actor, now=NOW)),
    "request_evidence": (State.REQUESTED, lambda case, actor: services.case_request_evidence(
        case=case, actor=actor, message="Screenshot please", now=NOW)),
    "evidence_received": (State.EVIDENCE_REQUESTED,
                          lambda case, actor: services.case_evidence_received(case=case, actor=actor, now=NOW)),
    "approve": (State.REQUESTED, lambda case, actor: services.case_approve(case=case, actor=actor, now=NOW)),
    "approve_statutory": (State.REQUESTED, lambda case, actor: services.case_approve_statutory(
        case=case, actor=actor, amount="10", basis="Local consumer law", now=NOW)),
    "extend": (State.REQUESTED, lambda case, actor: services.case_extend(case=case, actor=actor, bonus_days=1,
                                                                         now=NOW)),
    "deny": (State.REQUESTED, lambda case, actor: services.case_deny(case=case, actor=actor, reason="other",
                                                                     note="Because", now=NOW)),
    "withdraw": (State.REQUESTED, lambda case, actor: services.case_withdraw(case=case, actor=actor, now=NOW)),
    "pay": (State.APPROVED, lambda case, actor: services.case_pay(case=case, actor=actor, reference="re_1",
                                                                   now=NOW)),
}


def reason_for(name: str, state: str) -> str:
    return "technical_issue" if name in ("start_fix", "fix_failed", "fix_succeeded") or state in (
        State.AWAITING_FIX, State.RESOLVED) else "other"


def case_ready_for(name: str, s0, s1, agent, manager) -> RefundCase:
    """A case on which ``name`` is allowed for a manager who did not approve it."""
    state, _ = ACTIONS[name]
    if name == "extend":
        return open_case(s0, reason="server_outage", outage_hours=72, purchased_at=BEFORE_OUTAGE)
    if name == "approve_statutory":
        return open_case(s1, reason="changed_mind")
    case = open_case(s0, reason=reason_for(name, state))
    return drive(case, state, agent=agent, manager=manager, now=at("2026-01-02 10:00"))


# --- the wrong role -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_it_refuses_every_action_to_staff_without_refund_permissions(s0, s1, agent, manager, outsider, name):
    case = case_ready_for(name, s0, s1, agent, manager)

    error = assert_refused(lambda: ACTIONS[name][1](case, outsider), case,
                           Code.MANAGER_ONLY if name == "approve_statutory" else Code.NO_PERMISSION)

    assert "permission" in error.message or "manager" in error.message


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_it_lets_a_manager_take_every_action(s0, s1, agent, manager, manager2, name):
    case = case_ready_for(name, s0, s1, agent, manager)
    before = fresh(case)
    count = case.events.count()

    after = ACTIONS[name][1](case, manager2)

    # An unassigned case becomes the manager's, on record, with the action.
    assert case.events.count() == count + (1 if before.assignee_id else 2)
    assert after.assignee == (before.assignee or manager2)
    assert transitions(after)[-1] == name
    event = last_event(after)
    assert (event.from_state, event.to_state, event.actor) == (before.state, after.state, manager2)
    assert fresh(case).state == after.state


@pytest.mark.parametrize("name", ["approve_statutory", "pay"])
def test_it_keeps_manager_actions_from_agents(s0, s1, agent, agent2, manager, name):
    case = case_ready_for(name, s0, s1, agent, manager)

    assert_refused(lambda: ACTIONS[name][1](case, agent2), case,
                   Code.MANAGER_ONLY if name == "approve_statutory" else Code.NO_PERMISSION)


def test_it_refuses_comments_and_assignments_to_staff_without_refund_permissions(s0, agent, outsider):
    case = open_case(s0)

    assert_refused(lambda: services.case_comment(case=case, actor=outsider, comment="hi", customer_visible=True),
                   case, Code.NO_PERMISSION)
    assert_refused(lambda: services.case_assign(case=case, actor=outsider, assignee=agent), case, Code.NO_PERMISSION)


def test_it_records_comments_and_assignments_without_a_transition(
    s0, agent, agent2, mailoutbox, django_capture_on_commit_callbacks
):
    case = open_case(s0)

    with django_capture_on_commit_callbacks(execute=True):
        assert_refused(lambda: services.case_comment(case=case, actor=agent, comment="  "), case, Code.NOTE_REQUIRED)
        comment = services.case_comment(case=case, actor=agent, comment="We are on it", customer_visible=True,
                                        now=NOW)
        assigned = services.case_assign(case=case, actor=agent, assignee=agent2, now=NOW)

    assert (comment.kind, comment.transition, comment.visibility) == ("comment", "", "customer")
    assert assigned.assignee == agent2
    assert fresh(case).state == State.REQUESTED
    assert transitions(case) == []
    assert mail_names(mailoutbox) == ["A message about your case"]
    assert "We are on it" in mailoutbox[0].body


# --- the wrong state ------------------------------------------------------------------------

CLOSED = [State.DENIED, State.PAID, State.RESOLVED, State.WITHDRAWN]


@pytest.mark.parametrize("closed", CLOSED)
@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_it_moves_nothing_out_of_a_closed_state(s0, agent, manager2, closed, name):
    case = drive(open_case(s0, reason=reason_for("", closed)), closed, agent=agent, manager=manager2)
    case = fresh(case)

    error = assert_refused(lambda: ACTIONS[name][1](case, manager2), case, Code.WRONG_STATE)

    assert error.message == f"This action is not possible while the case is {case.get_state_display().lower()}."


@pytest.mark.parametrize(("name", "state"), [
    ("pay", State.REQUESTED), ("fix_failed", State.REQUESTED), ("fix_succeeded", State.EVIDENCE_REQUESTED),
    ("evidence_received", State.REQUESTED), ("request_evidence", State.APPROVED), ("start_fix", State.APPROVED),
    ("approve", State.APPROVED), ("deny", State.APPROVED), ("extend", State.APPROVED),
    ("request_evidence", State.AWAITING_FIX),
])
def test_it_refuses_an_action_from_the_wrong_open_state(s0, agent, manager2, name, state):
    case = fresh(drive(open_case(s0, reason=reason_for("", state)), state, agent=agent, manager=manager2))

    assert_refused(lambda: ACTIONS[name][1](case, manager2), case, Code.WRONG_STATE)


@pytest.mark.parametrize("name", ["fix_failed", "fix_succeeded", "evidence_received", "pay", "start_fix",
                                  "request_evidence"])
def test_it_tells_a_caller_holding_an_old_copy_that_someone_else_acted(s0, agent, manager, manager2, name):
    state, call = ACTIONS[name]
    case = drive(open_case(s0, reason=reason_for(name, state)), state, agent=agent, manager=manager,
                 now=at("2026-01-02 10:00"))
    services.case_withdraw(case=case, actor=agent, note="Customer asked", now=at("2026-01-02 11:00"))

    error = assert_refused(lambda: call(case, manager2), case, Code.ALREADY_DONE)

    assert error.message == "Someone else already changed this case (it is now withdrawn); reload the page."


@pytest.mark.parametrize("name", ["approve", "deny", "extend", "approve_statutory"])
def test_it_tells_a_caller_expecting_another_state_that_someone_else_acted(s0, s1, agent, manager, name):
    case = case_ready_for(name, s0, s1, agent, manager)
    calls = {
        "approve": lambda: services.case_approve(case=case, actor=manager, expected_state=State.REQUESTED, now=NOW),
        "deny": lambda: services.case_deny(case=case, actor=manager, reason="other", note="x",
                                           expected_state=State.REQUESTED, now=NOW),
        "extend": lambda: services.case_extend(case=case, actor=manager, expected_state=State.REQUESTED, now=NOW),
        "approve_statutory": lambda: services.case_approve_statutory(
            case=case, actor=manager, amount="5", basis="law", expected_state=State.REQUESTED, now=NOW),
    }
    services.case_request_evidence(case=case, actor=agent, message="Which device?", now=later(WITHIN_WINDOW, hours=2))

    error = assert_refused(calls[name], case, Code.ALREADY_DONE)

    assert "(it is now waiting for evidence)" in error.message


def test_it_tells_a_caller_replaying_their_own_action_that_they_already_did_it(s0, agent, manager):
    case = open_case(s0)
    services.case_approve(case=case, actor=agent, expected_state=State.REQUESTED, now=NOW)

    mine = assert_refused(lambda: services.case_approve(case=case, actor=agent, expected_state=State.REQUESTED,
                                                        now=NOW), case, Code.ALREADY_DONE_BY_YOU)
    theirs = assert_refused(lambda: services.case_approve(case=case, actor=manager, expected_state=State.REQUESTED,
                                                          now=NOW), case, Code.ALREADY_DONE)

    assert mine.message == "You already did this (approve); the case is now approved. Nothing was done twice."
    assert "Someone else" in theirs.message
    assert CaseEvent.objects.filter(case=case, transition="approve").count() == 1


@pytest.mark.parametrize("state", OPEN_STATES)
def test_it_withdraws_from_every_open_state(s0, agent, manager, state, mailoutbox, django_capture_on_commit_callbacks):
    case = drive(open_case(s0, reason=reason_for("", state)), state, agent=agent, manager=manager)

    with django_capture_on_commit_callbacks(execute=True):
        withdrawn = services.case_withdraw(case=case, actor=agent, note="Customer found it", now=NOW)

    assert withdrawn.state == State.WITHDRAWN
    assert (withdrawn.resolution, withdrawn.next_deadline) == ("withdrawn", None)
    event = last_event(withdrawn)
    assert (event.transition, event.from_state, event.to_state, event.comment) == (
        "withdraw", state, State.WITHDRAWN, "Customer found it")
    # Withdrawing an approved case cancels the approval, and the customer is told so.
    closed = "Your approved refund was cancelled" if state == State.APPROVED else "Your case is closed"
    assert mail_names(mailoutbox) == [closed]
    # The order is free for a new request once this one is closed.
    again = open_case(s0, order=case.order, requested_at=NOW)
    assert again.state == State.REQUESTED


# --- deny -----------------------------------------------------------------------------------


@pytest.mark.parametrize("note", ["", "   "])
def test_it_needs_a_note_to_deny_a_refund_the_policy_allows(s0, agent, note):
    case = open_case(s0)

    error = assert_refused(lambda: services.case_deny(case=case, actor=agent, reason="abuse", note=note, now=NOW),
                           case, Code.NOTE_REQUIRED)

    assert error.message == "A note explaining why a refund the policy allows is denied is required."


@pytest.mark.clause("S0-WINDOW")
def test_it_denies_a_refund_the_policy_allows_with_a_note(s0, agent):
    case = open_case(s0)

    denied = services.case_deny(case=case, actor=agent, reason="abuse", note=" Fifth request this month ", now=NOW)

    assert (denied.state, denied.deny_reason) == (State.DENIED, "abuse")
    event = last_event(denied)
    assert event.comment == "Fifth request this month"
    assert event.data == {"deny_reason": "abuse", "clauses": ["S0-WINDOW"]}


def test_it_denies_a_technical_issue_awaiting_its_fix_without_a_note(s0, agent):
    case = open_case(s0, reason="technical_issue")

    denied = services.case_deny(case=case, actor=agent, reason="no_evidence", now=NOW)

    assert denied.state == State.DENIED


@pytest.mark.parametrize("reason", ["", "because", None])
def test_it_refuses_an_unknown_denial_reason(s0, agent, reason):
    case = open_case(s0)

    error = assert_refused(lambda: services.case_deny(case=case, actor=agent, reason=reason, note="x", now=NOW),
                           case, Code.INVALID_INPUT)

    assert error.message == f"Unknown denial reason {reason!r}."


# --- bad amounts ----------------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["abc", "0", "0.00", "-5", "1.001", "NaN", "sNaN", "Infinity", "-Infinity",
                                    "1e30", "1e-30", "1,00", " ", 0, -1, Decimal("0.005"), True, [1]])
def test_it_refuses_a_bad_amount(s0, agent, amount):
    case = open_case(s0)

    error = assert_refused(lambda: services.case_approve(case=case, actor=agent, amount=amount, now=NOW), case,
                           Code.AMOUNT_INVALID)

    assert error.message == "Give an amount greater than zero with at most two decimals."


@pytest.mark.parametrize(("amount", "expected"), [("12", "12.00"), (" 12.5 ", "12.50"), (12.25, "12.25"),
                                                  (Decimal("7.10"), "7.10"), ("1E1", "10.00")])
def test_it_accepts_an_amount_in_any_plain_form(s0, agent, amount, expected):
    case = open_case(s0)

    approved = services.case_approve(case=case, actor=agent, amount=amount, now=NOW)

    assert approved.approved_amount == Decimal(expected)
    assert last_event(approved).data["amount"] == expected


# --- opening a case -------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "message"), [
    ({"requested_at": at("2025-12-31 10:00")}, "The request time is before the purchase time."),
    ({"requested_at": at("2026-01-05 10:06")}, "The request time is in the future."),
    ({"outage_hours": -1}, "Outage hours must be a number of hours, 0 or more, with at most one decimal."),
    ({"outage_hours": "many"}, "Outage hours must be a number of hours, 0 or more, with at most one decimal."),
    ({"outage_hours": "1e9"}, "Outage hours must be a number of hours, 0 or more, with at most one decimal."),
    ({"outage_hours": "NaN"}, "Outage hours must be a number of hours, 0 or more, with at most one decimal."),
    ({"outage_hours": "49.25"}, "Outage hours must be a number of hours, 0 or more, with at most one decimal."),
    ({"reason": "bored"}, "Unknown refund reason 'bored'."),
    ({"channel": "pigeon"}, "Unknown channel 'pigeon'."),
])
def test_it_refuses_to_open_a_case_on_bad_input(s0, fields, message, mailoutbox, django_capture_on_commit_callbacks):
    order = make_order(s0)
    call = {"order": order, "reason": "other", "requested_at": WITHIN_WINDOW, "now": at("2026-01-05 10:00"), **fields}

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(services.CaseActionError) as caught:
        services.case_create(**call)

    assert (caught.value.code, caught.value.message) == (Code.INVALID_INPUT, message)
    assert not RefundCase.objects.filter(order=order).exists()
    assert not CaseEvent.objects.exists()
    assert mailoutbox == []


def test_it_refuses_a_second_open_case_on_one_order(s0, agent, mailoutbox, django_capture_on_commit_callbacks):
    first = open_case(s0)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(services.CaseActionError) as caught:
        services.case_create(order=first.order, reason="technical_issue", requested_at=NOW, now=NOW)

    assert caught.value.code == Code.INVALID_INPUT
    assert caught.value.message == f"Order {first.order} already has an open case, {first.number}."
    assert RefundCase.objects.filter(order=first.order).count() == 1
    assert mailoutbox == []


def test_it_opens_a_case_with_its_created_event(s0, agent, mailoutbox, django_capture_on_commit_callbacks):
    order = make_order(s0, purchased_at=BEFORE_OUTAGE)

    with django_capture_on_commit_callbacks(execute=True):
        case = services.case_create(order=order, reason="server_outage", outage_hours="72.5", channel="email",
                                    description="No channels since Friday", requested_at=WITHIN_WINDOW,
                                    actor=agent, now=NOW)

    case = fresh(case)
    assert (case.state, case.outage_hours, case.channel) == (State.REQUESTED, Decimal("72.5"), "email")
    assert case.decision["extension_days"] == 4
    event = case.events.get()
    assert (event.kind, event.transition, event.actor, event.comment) == (
        "created", "", agent, "No channels since Friday")
    assert event.data == {"channel": "email", "reason": "server_outage"}
    assert mail_names(mailoutbox) == ["We received your request"]


# --- the event log --------------------------------------------------------------------------


def test_it_never_changes_a_written_event(s0, agent):
    case = services.case_approve(case=open_case(s0), actor=agent, now=NOW)
    event = last_event(case)

    event.comment = "rewritten"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        CaseEvent.objects.filter(case=case).update(comment="rewritten")
    with pytest.raises(TypeError):
        CaseEvent.objects.filter(case=case).delete()

    assert CaseEvent.objects.get(pk=event.pk).comment == ""
    assert list(case.events.values_list("kind", flat=True).order_by("pk")) == ["created", "assigned", "transition"]


def test_it_stores_a_repeated_comment_once_and_a_later_one_again(s0, agent, mailoutbox,
                                                                  django_capture_on_commit_callbacks):
    case = open_case(s0)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        first = services.case_comment(case=case, actor=agent, comment="We are on it", customer_visible=True, now=NOW)
        again = services.case_comment(case=case, actor=agent, comment="We are on it", customer_visible=True,
                                      now=later(NOW, minutes=1))
        much_later = services.case_comment(case=case, actor=agent, comment="We are on it", customer_visible=True,
                                           now=later(NOW, hours=1))

    assert again.pk == first.pk
    assert much_later.pk != first.pk
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.COMMENT).count() == 2
    assert len(mailoutbox) == 2
