"""Storefront iptv-smarters-pro (file 000): every clause a transition enforces, through the services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from cases import services
from cases.models import CaseEvent
from cases.states import State
from core.errors import CaseActionError, Code
from orders.models import Extension
from tests.cases import (
    PRICE,
    PURCHASED,
    WITHIN_WINDOW,
    assert_refused,
    fresh,
    last_event,
    later,
    mail_names,
    open_case,
    transitions,
)
from tests.conftest import at, make_order

S0_FROM = "IPTV Smarters Pro <support@iptvsmarterspro.org>"
# 2026-01-10 10:00 is 8 d 23 h 55 min after delivery: 9 started days used of 90, 81 left.
LATE = at("2026-01-10 10:00")
PRORATED_LATE = Decimal("53.99")  # 59.99 * 81 / 90 = 53.991, rounded down


# --- S0-WINDOW / S0-PARTIAL -------------------------------------------------------------------


@pytest.mark.clause("S0-WINDOW")
def test_it_approves_the_full_price_within_48_hours_by_default(s0, agent):
    case = open_case(s0)

    approved = services.case_approve(case=case, actor=agent, now=later(WITHIN_WINDOW, hours=1))

    assert approved.state == State.APPROVED
    assert approved.approved_amount == PRICE
    assert approved.approved_by == agent
    assert approved.approved_at == later(WITHIN_WINDOW, hours=1)
    assert approved.decision["clauses"] == ["S0-WINDOW"]
    event = last_event(approved)
    assert (event.transition, event.from_state, event.to_state) == ("approve", State.REQUESTED, State.APPROVED)
    assert event.actor == agent
    assert event.data == {"amount": "59.99", "currency": "USD", "outcome": "full_refund"}
    assert fresh(case).approved_amount == PRICE


@pytest.mark.clause("S0-WINDOW", "S0-PARTIAL")
@pytest.mark.parametrize(
    ("requested_at", "outcome", "amount", "clause"),
    [
        (at("2026-01-03 10:00"), "full_refund", "59.99", "S0-WINDOW"),  # exactly 48 h: inclusive
        # 48 h 01 min: 2 started days used of 90 -> 59.99 * 88 / 90 = 58.656..
        (at("2026-01-03 10:01"), "partial_refund", "58.65", "S0-PARTIAL"),
    ],
)
def test_it_switches_from_full_to_prorated_at_the_48_hour_boundary(s0, agent, requested_at, outcome, amount, clause):
    case = open_case(s0, requested_at=requested_at)

    approved = services.case_approve(case=case, actor=agent, now=later(requested_at, hours=1))

    assert approved.approved_amount == Decimal(amount)
    assert approved.decision["outcome"] == outcome
    assert approved.decision["clauses"] == [clause]


def test_it_approves_the_prorated_amount_after_48_hours(s0, agent):
    case = open_case(s0, requested_at=LATE)

    approved = services.case_approve(case=case, actor=agent, now=later(LATE, days=2))

    assert approved.approved_amount == PRORATED_LATE
    assert last_event(approved).data["outcome"] == "partial_refund"


def test_it_allows_a_smaller_partial_amount(s0, agent):
    case = open_case(s0, requested_at=LATE)

    approved = services.case_approve(case=case, actor=agent, amount="20.50", note="Goodwill split",
                                     now=later(LATE, hours=1))

    assert approved.approved_amount == Decimal("20.50")
    assert approved.approval_note == "Goodwill split"
    assert last_event(approved).data["amount"] == "20.50"


@pytest.mark.clause("S0-PARTIAL")
@pytest.mark.parametrize("amount", ["54.00", "54", "59.99", "1000", Decimal("53.9901") * 100])
def test_it_refuses_an_amount_above_the_decision(s0, agent, amount):
    case = open_case(s0, requested_at=LATE)

    error = assert_refused(lambda: services.case_approve(case=case, actor=agent, amount=amount,
                                                         now=later(LATE, hours=1)), case, Code.AMOUNT_ABOVE_DECISION)

    assert "above what the policy allows (53.99 USD, S0-PARTIAL)" in error.message


@pytest.mark.clause("S0-PARTIAL")
def test_it_denies_a_request_made_after_the_period_ran_out(s0, agent, manager):
    case = open_case(s0, requested_at=at("2026-04-02 10:00"))
    assert case.decision["outcome"] == "deny" and case.decision["clauses"] == ["S0-PARTIAL"]

    error = assert_refused(lambda: services.case_approve(case=case, actor=manager, now=at("2026-04-02 11:00")),
                           case, Code.POLICY_BLOCKS)
    denied = services.case_deny(case=case, actor=agent, reason="outside_window", now=at("2026-04-02 11:00"))

    assert "S0-PARTIAL" in error.message
    assert denied.state == State.DENIED
    assert last_event(denied).data == {"deny_reason": "outside_window", "clauses": ["S0-PARTIAL"]}


# --- S0-FIX-FIRST / S0-FIX-48H ---------------------------------------------------------------


@pytest.mark.clause("S0-FIX-FIRST")
def test_it_refuses_to_approve_a_technical_issue_before_a_fix_attempt(s0, agent, manager):
    case = open_case(s0, reason="technical_issue")

    for actor in (agent, manager):
        error = assert_refused(lambda: services.case_approve(case=case, actor=actor, now=later(WITHIN_WINDOW, hours=1)),
                               case, Code.POLICY_BLOCKS)
        assert error.message == "A fix attempt must be recorded first (S0-FIX-FIRST)."


def test_it_starts_a_fix_with_a_48_hour_deadline(s0, agent, mailoutbox, django_capture_on_commit_callbacks):
    start = at("2026-01-02 10:00")
    with django_capture_on_commit_callbacks(execute=True):
        case = open_case(s0, reason="technical_issue")
        fixing = services.case_start_fix(case=case, actor=agent, note="Reset the line", now=start)

    assert fixing.state == State.AWAITING_FIX
    assert fixing.fix_started_at == start
    assert fixing.fix_outcome == "pending"
    assert fixing.fix_deadline == at("2026-01-04 10:00")
    assert fixing.next_deadline == at("2026-01-04 10:00")
    event = last_event(fixing)
    assert (event.from_state, event.to_state, event.comment) == (State.REQUESTED, State.AWAITING_FIX, "Reset the line")
    assert event.visibility == CaseEvent.Visibility.INTERNAL  # not ticked "show to the customer"
    assert mail_names(mailoutbox) == ["We received your request", "We are working on your issue"]
    assert "4 January 2026, 10:00 UTC" in mailoutbox[1].body


def test_it_refuses_a_fix_attempt_that_is_not_needed(s0, agent):
    case = open_case(s0, reason="other")

    error = assert_refused(lambda: services.case_start_fix(case=case, actor=agent, now=later(WITHIN_WINDOW, hours=1)),
                           case, Code.POLICY_BLOCKS)

    assert "No fix attempt is needed" in error.message


@pytest.mark.clause("S0-FIX-48H", "S0-FIX-FIRST")
def test_it_waits_while_the_fix_window_is_open(s0, agent):
    case = open_case(s0, reason="technical_issue")
    case = services.case_start_fix(case=case, actor=agent, now=at("2026-01-02 10:00"))

    error = assert_refused(lambda: services.case_approve(case=case, actor=agent, now=at("2026-01-02 12:00")),
                           case, Code.POLICY_BLOCKS)
    last_minute = assert_refused(lambda: services.case_approve(case=case, actor=agent, now=at("2026-01-04 09:59")),
                                 case, Code.POLICY_BLOCKS)

    assert error.message.startswith("The fix window is still open for 46 h 00 min (S0-FIX-48H, S0-FIX-FIRST)")
    assert "0 h 01 min" in last_minute.message


def test_it_allows_a_refund_at_exactly_48_hours_after_the_fix_started_s0_fix_48h(s0, agent):
    """S0-FIX-48H reading: at exactly 48 h the window has run out; the sweep may also close it then."""
    case = open_case(s0, reason="technical_issue")
    started = at("2026-01-02 10:00")
    case = services.case_start_fix(case=case, actor=agent, now=started)
    deadline = started + timedelta(hours=48)

    approved = services.case_approve(case=case, actor=agent, now=deadline)

    assert approved.state == State.APPROVED
    assert approved.approved_amount == PRICE
    assert approved.decision["clauses"] == ["S0-FIX-48H", "S0-WINDOW"]


@pytest.mark.clause("S0-FIX-48H", "S0-WINDOW", "S0-PARTIAL")
@pytest.mark.parametrize(
    ("requested_at", "amount", "clauses"),
    [
        (WITHIN_WINDOW, PRICE, ["S0-FIX-48H", "S0-WINDOW"]),
        (LATE, PRORATED_LATE, ["S0-FIX-48H", "S0-PARTIAL"]),
    ],
)
def test_it_allows_a_refund_once_the_fix_failed(s0, agent, requested_at, amount, clauses):
    case = open_case(s0, reason="technical_issue", requested_at=requested_at)
    case = services.case_start_fix(case=case, actor=agent, now=later(requested_at, hours=1))

    failed = services.case_fix_failed(case=case, actor=agent, note="Still down", now=later(requested_at, hours=5))
    approved = services.case_approve(case=failed, actor=agent, now=later(requested_at, hours=6))

    assert failed.state == State.REQUESTED
    assert failed.fix_outcome == "unresolved"
    assert failed.next_deadline is None
    assert approved.approved_amount == amount
    assert approved.decision["clauses"] == clauses
    assert transitions(approved) == ["start_fix", "fix_failed", "approve"]


@pytest.mark.clause("S0-FIX-48H")
@pytest.mark.parametrize(
    ("requested_at", "amount"), [(WITHIN_WINDOW, PRICE), (LATE, PRORATED_LATE)]
)
def test_it_allows_a_refund_once_a_pending_fix_ran_past_its_deadline(s0, agent, requested_at, amount):
    case = open_case(s0, reason="technical_issue", requested_at=requested_at)
    case = services.case_start_fix(case=case, actor=agent, now=later(requested_at, hours=1))

    approved = services.case_approve(case=case, actor=agent, now=later(requested_at, hours=49, minutes=1))

    assert approved.state == State.APPROVED
    assert approved.approved_amount == amount
    assert "S0-FIX-48H" in approved.decision["clauses"]
    event = last_event(approved)
    assert (event.from_state, event.to_state) == (State.AWAITING_FIX, State.APPROVED)


def test_it_closes_a_fixed_case_without_money(s0, agent, mailoutbox, django_capture_on_commit_callbacks):
    case = open_case(s0, reason="technical_issue")
    case = services.case_start_fix(case=case, actor=agent, now=at("2026-01-02 10:00"))

    with django_capture_on_commit_callbacks(execute=True):
        fixed = services.case_fix_succeeded(case=case, actor=agent, now=at("2026-01-02 20:00"))

    assert fixed.state == State.RESOLVED
    assert (fixed.resolution, fixed.fix_outcome, fixed.next_deadline) == ("fixed", "resolved", None)
    assert fixed.decision["outcome"] == "resolved"
    assert mail_names(mailoutbox) == ["Your issue is resolved"]
    assert_refused(lambda: services.case_approve(case=fixed, actor=agent, now=at("2026-01-05 10:00")), fixed,
                   Code.WRONG_STATE)


# --- exclusions -----------------------------------------------------------------------------

EXCLUSIONS = [
    ("setup_difficulty", "S0-NO-SETUP"),
    ("intermittent_streams", "S0-NO-INTERMITTENT"),
    ("changed_mind", "S0-NO-CHANGE"),
    ("server_switch", "S0-NO-CHANGE"),
    ("adult_channels_missing", "S0-NO-ADULT"),
]


@pytest.mark.parametrize(("reason", "clause"), EXCLUSIONS)
def test_it_refuses_to_approve_an_excluded_reason_citing_the_clause(s0, agent, manager, reason, clause):
    case = open_case(s0, reason=reason)

    for actor in (agent, manager):
        error = assert_refused(lambda: services.case_approve(case=case, actor=actor, now=later(WITHIN_WINDOW, hours=1)),
                               case, Code.POLICY_BLOCKS)
        assert error.message.startswith(f"The policy does not allow a refund ({clause}):")


@pytest.mark.parametrize(("reason", "clause"), EXCLUSIONS)
def test_it_denies_an_excluded_reason_citing_the_clause(
    s0, agent, reason, clause, mailoutbox, django_capture_on_commit_callbacks
):
    case = open_case(s0, reason=reason)

    with django_capture_on_commit_callbacks(execute=True):
        denied = services.case_deny(case=case, actor=agent, reason="policy_exclusion",
                                    now=later(WITHIN_WINDOW, hours=1))

    assert denied.state == State.DENIED
    assert (denied.resolution, denied.deny_reason) == ("denied", "policy_exclusion")
    event = last_event(denied)
    assert (event.transition, event.from_state, event.to_state) == ("deny", State.REQUESTED, State.DENIED)
    assert event.data == {"deny_reason": "policy_exclusion", "clauses": [clause]}
    assert event.decision["clauses"] == [clause]
    assert event.visibility == CaseEvent.Visibility.CUSTOMER
    assert mail_names(mailoutbox) == ["About your case"]
    assert denied.decision["explanation"] in mailoutbox[0].body


# --- S0-OUTAGE ------------------------------------------------------------------------------

OUTAGE_REQUEST = at("2026-02-15 10:00")  # weeks after purchase: S0-OUTAGE ignores the window


@pytest.mark.parametrize(("hours", "lost_days"), [("48.5", 3), ("49", 3), ("72", 3), ("72.5", 4), ("100", 5)])
def test_it_extends_by_the_lost_days_plus_the_bonus(
    s0, agent, hours, lost_days, mailoutbox, django_capture_on_commit_callbacks
):
    case = open_case(s0, reason="server_outage", outage_hours=hours, requested_at=OUTAGE_REQUEST)
    subscription = case.order.subscription
    end_before = subscription.period_end
    assert end_before == at("2026-04-01 10:05")

    with django_capture_on_commit_callbacks(execute=True):
        extended = services.case_extend(case=case, actor=agent, bonus_days=5, note="Sorry",
                                        now=later(OUTAGE_REQUEST, hours=1))

    assert extended.state == State.RESOLVED
    assert extended.resolution == "extended"
    subscription.refresh_from_db()
    assert subscription.extension_days == lost_days + 5
    assert subscription.period_end == later(end_before, days=lost_days + 5)
    extension = Extension.objects.get(case=case)
    assert (extension.lost_days, extension.bonus_days, extension.created_by) == (lost_days, 5, agent)
    event = last_event(extended)
    assert (event.transition, event.from_state, event.to_state) == ("extend", State.REQUESTED, State.RESOLVED)
    assert event.data == {"lost_days": lost_days, "bonus_days": 5}
    assert mail_names(mailoutbox) == ["Your subscription has been extended"]
    assert f"{subscription.period_end.day} {subscription.period_end:%B %Y}" in mailoutbox[0].body


@pytest.mark.clause("S0-OUTAGE")
def test_it_also_allows_a_full_refund_for_a_long_outage_whatever_the_purchase_date(s0, agent):
    case = open_case(s0, reason="server_outage", outage_hours=72, requested_at=OUTAGE_REQUEST)

    approved = services.case_approve(case=case, actor=agent, now=later(OUTAGE_REQUEST, hours=1))

    assert approved.approved_amount == PRICE
    assert approved.decision["outcome"] == "refund_or_extension"
    assert approved.decision["clauses"] == ["S0-OUTAGE"]


@pytest.mark.clause("S0-NO-INTERMITTENT")
@pytest.mark.parametrize("hours", [0, 12, 48])
def test_it_refuses_to_extend_or_refund_a_short_outage(s0, agent, hours):
    case = open_case(s0, reason="server_outage", outage_hours=hours, requested_at=OUTAGE_REQUEST)

    extend = assert_refused(lambda: services.case_extend(case=case, actor=agent, bonus_days=2,
                                                         now=later(OUTAGE_REQUEST, hours=1)), case, Code.POLICY_BLOCKS)
    approve = assert_refused(lambda: services.case_approve(case=case, actor=agent, now=later(OUTAGE_REQUEST, hours=1)),
                             case, Code.POLICY_BLOCKS)

    assert "S0-NO-INTERMITTENT" in extend.message
    assert "S0-NO-INTERMITTENT" in approve.message


@pytest.mark.parametrize("bonus", [-1, 1.5, "3", True, None, 10**12])
def test_it_refuses_a_bad_bonus(s0, agent, bonus):
    case = open_case(s0, reason="server_outage", outage_hours=72, requested_at=OUTAGE_REQUEST)

    error = assert_refused(lambda: services.case_extend(case=case, actor=agent, bonus_days=bonus,
                                                        now=later(OUTAGE_REQUEST, hours=1)), case, Code.INVALID_INPUT)

    assert "Bonus days" in error.message


def test_it_refuses_to_extend_a_subscription_never_delivered(s0, agent):
    """A never-delivered order had no outage: the case cannot claim one, so there is nothing to extend."""
    order = make_order(s0, delivered_at=None)
    with pytest.raises(CaseActionError) as refused:
        services.case_create(order=order, reason="server_outage", outage_hours=72, requested_at=OUTAGE_REQUEST,
                             now=OUTAGE_REQUEST)
    assert refused.value.code == Code.INVALID_INPUT
    assert refused.value.message == "Outage hours: the order was never delivered, so it had no outage; give 0."
    assert not order.cases.exists()

    case = open_case(s0, reason="server_outage", requested_at=OUTAGE_REQUEST, order=order)
    error = assert_refused(lambda: services.case_extend(case=case, actor=agent, now=later(OUTAGE_REQUEST, hours=1)),
                           case, Code.POLICY_BLOCKS)
    assert "S0-NO-INTERMITTENT" in error.message
    assert not Extension.objects.exists()


# --- S0-EVIDENCE ----------------------------------------------------------------------------


@pytest.mark.parametrize("message", ["", "   ", None])
def test_it_needs_a_message_to_request_evidence(s0, agent, message, mailoutbox, django_capture_on_commit_callbacks):
    case = open_case(s0)

    with django_capture_on_commit_callbacks(execute=True):
        error = assert_refused(lambda: services.case_request_evidence(case=case, actor=agent, message=message,
                                                                      now=later(WITHIN_WINDOW, hours=1)),
                               case, Code.NOTE_REQUIRED)

    assert error.message == "A message to the customer is required."
    assert mailoutbox == []


def test_it_mails_the_evidence_request_and_returns_to_review(s0, agent, mailoutbox, django_capture_on_commit_callbacks):
    case = open_case(s0, reason="technical_issue")
    asked_at = later(WITHIN_WINDOW, hours=1)

    with django_capture_on_commit_callbacks(execute=True):
        waiting = services.case_request_evidence(case=case, actor=agent, message="  Send the error on screen.  ",
                                                 now=asked_at)

    assert waiting.state == State.EVIDENCE_REQUESTED
    assert waiting.evidence_requested_at == asked_at
    assert waiting.evidence_due_at == later(asked_at, days=7) == waiting.next_deadline
    event = last_event(waiting)
    assert (event.comment, event.visibility) == ("Send the error on screen.", CaseEvent.Visibility.CUSTOMER)
    assert mail_names(mailoutbox) == ["We need a little more information"]
    assert "Send the error on screen." in mailoutbox[0].body
    assert f"{later(asked_at, days=7):%-d %B %Y}" in mailoutbox[0].body

    back = services.case_evidence_received(case=waiting, actor=agent, now=later(asked_at, days=1))

    assert back.state == State.REQUESTED
    assert (back.evidence_due_at, back.next_deadline) == (None, None)
    event = last_event(back)
    assert (event.transition, event.from_state, event.to_state) == (
        "evidence_received", State.EVIDENCE_REQUESTED, State.REQUESTED)
    # S0-FIX-FIRST still holds after the evidence came in.
    assert_refused(lambda: services.case_approve(case=back, actor=agent, now=later(asked_at, days=1)), back,
                   Code.POLICY_BLOCKS)


def test_it_approves_straight_from_an_evidence_request(s0, agent):
    case = open_case(s0)
    case = services.case_request_evidence(case=case, actor=agent, message="Screenshot please",
                                          now=later(WITHIN_WINDOW, hours=1))

    approved = services.case_approve(case=case, actor=agent, now=later(WITHIN_WINDOW, hours=2))

    assert approved.state == State.APPROVED
    assert last_event(approved).from_state == State.EVIDENCE_REQUESTED


# --- S0-SUPPORT-COMMS -----------------------------------------------------------------------


@pytest.mark.clause("S0-SUPPORT-COMMS")
def test_it_sends_every_customer_mail_from_the_support_address(
    s0, agent, manager, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        case = open_case(s0, reason="technical_issue", email="viewer@example.net")
        case = services.case_start_fix(case=case, actor=agent, now=at("2026-01-02 10:00"))
        case = services.case_fix_failed(case=case, actor=agent, now=at("2026-01-02 12:00"))
        case = services.case_request_evidence(case=case, actor=agent, message="Which device?",
                                              now=at("2026-01-02 13:00"))
        case = services.case_evidence_received(case=case, actor=agent, now=at("2026-01-02 14:00"))
        case = services.case_approve(case=case, actor=agent, now=at("2026-01-02 15:00"))
        services.case_pay(case=case, actor=manager, reference="re_9", now=at("2026-01-05 10:00"))

    assert mail_names(mailoutbox) == [
        "We received your request", "We are working on your issue", "We need a little more information",
        "Your refund is approved", "Your refund has been sent",
    ]
    for message in mailoutbox:
        assert message.from_email == S0_FROM
        assert message.reply_to == ["support@iptvsmarterspro.org"]
        assert message.to == ["viewer@example.net"]
        assert case.number in message.subject


def test_it_sends_no_mail_when_the_transaction_rolls_back(s0, agent, mailoutbox, django_capture_on_commit_callbacks):
    case = open_case(s0)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.case_approve(case=case, actor=agent, now=later(WITHIN_WINDOW, hours=1))
            raise RuntimeError("the request failed after the approval")

    assert callbacks == []
    assert mailoutbox == []
    assert fresh(case).state == State.REQUESTED
    assert transitions(case) == []


def test_it_sends_no_mail_for_a_refused_action(s0, agent, mailoutbox, django_capture_on_commit_callbacks):
    case = open_case(s0, reason="changed_mind")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert_refused(lambda: services.case_approve(case=case, actor=agent, now=later(WITHIN_WINDOW, hours=1)),
                       case, Code.POLICY_BLOCKS)

    assert callbacks == []
    assert mailoutbox == []


def test_it_dates_events_with_the_action_time(s0, agent):
    case = open_case(s0, requested_at=PURCHASED)

    approved = services.case_approve(case=case, actor=agent, now=at("2026-01-01 11:00"))

    assert last_event(approved).created_at == at("2026-01-01 11:00")
    assert approved.decided_at == at("2026-01-01 11:00")
