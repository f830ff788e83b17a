"""Storefront smarters-pro (file 001): every clause a transition enforces, through the services."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cases import services
from cases.states import State
from core.errors import Code
from tests.cases import (
    BEFORE_OUTAGE,
    PRICE,
    WITHIN_WINDOW,
    assert_refused,
    last_event,
    later,
    mail_names,
    open_case,
)
from tests.conftest import at

S1_FROM = "Smarters Pro <support@smarters-pro.net>"
NOW = later(WITHIN_WINDOW, hours=1)
BASIS = "Consumer Rights Act 2015 s.50: the service did not match its description."


# --- S1-USED-ON-DELIVERY / S1-DISCRETION ----------------------------------------------------


@pytest.mark.clause("S1-USED-ON-DELIVERY")
@pytest.mark.parametrize("delivered_at", [None, at("2026-01-03 10:00")], ids=["never", "after-the-request"])
def test_it_lets_an_agent_refund_in_full_before_delivery(s1, agent, delivered_at):
    case = open_case(s1, delivered_at=delivered_at)

    approved = services.case_approve(case=case, actor=agent, now=NOW)

    assert approved.approved_amount == PRICE
    assert approved.decision["outcome"] == "full_refund"
    assert approved.decision["clauses"] == ["S1-USED-ON-DELIVERY"]


@pytest.mark.clause("S1-DISCRETION")
def test_it_refuses_a_delivered_case_to_an_agent_as_manager_only(s1, agent, outsider):
    case = open_case(s1)
    assert case.decision["outcome"] == "manager_discretion"

    error = assert_refused(lambda: services.case_approve(case=case, actor=agent, note="Loyal customer", now=NOW),
                           case, Code.MANAGER_ONLY)
    stranger = assert_refused(lambda: services.case_approve(case=case, actor=outsider, note="x", now=NOW),
                              case, Code.NO_PERMISSION)

    assert error.message == ("Only a support manager can do this (S1-DISCRETION: the decision is at a "
                             "manager's discretion).")
    assert "approve refunds" in stranger.message


@pytest.mark.clause("S1-DISCRETION")
@pytest.mark.parametrize("note", ["", "  ", None])
def test_it_needs_a_written_justification_from_the_manager(s1, manager, note):
    case = open_case(s1)

    error = assert_refused(lambda: services.case_approve(case=case, actor=manager, note=note or "", now=NOW),
                           case, Code.NOTE_REQUIRED)

    assert error.message == "A written justification (S1-DISCRETION) is required."


def test_it_asks_for_the_justification_and_the_legal_basis_when_given_the_case_by_its_key(s1, manager):
    """The services take a case or its primary key; the clause a message cites is read from the locked row."""
    case = open_case(s1)

    error = assert_refused(lambda: services.case_approve(case=case.pk, actor=manager, note="", now=NOW),
                           case, Code.NOTE_REQUIRED)
    assert error.message == "A written justification (S1-DISCRETION) is required."
    error = assert_refused(lambda: services.case_approve_statutory(case=case.pk, actor=manager, amount="10",
                                                                   basis=" ", now=NOW), case, Code.NOTE_REQUIRED)
    assert error.message == "The legal basis (S1-STATUTORY) is required."

    approved = services.case_approve_statutory(case=case.pk, actor=manager, amount="10", basis=f" {BASIS} ", now=NOW)
    assert approved.statutory_basis == BASIS
    assert last_event(approved).comment == BASIS


@pytest.mark.clause("S1-DISCRETION", "S1-USED-ON-DELIVERY")
@pytest.mark.parametrize(("amount", "expected"), [(None, PRICE), ("59.99", PRICE), ("0.01", Decimal("0.01")),
                                                  ("25", Decimal("25.00"))])
def test_it_lets_a_manager_grant_any_amount_up_to_the_remainder(s1, manager, amount, expected):
    case = open_case(s1)

    approved = services.case_approve(case=case, actor=manager, amount=amount, note=" Channels never loaded ",
                                     now=NOW)

    assert approved.approved_amount == expected
    assert approved.approval_note == "Channels never loaded"
    event = last_event(approved)
    assert event.comment == "Channels never loaded"
    assert event.data == {"amount": f"{expected:.2f}", "currency": "USD", "outcome": "manager_discretion"}
    assert event.decision["clauses"] == ["S1-DISCRETION", "S1-USED-ON-DELIVERY"]


def test_it_refuses_a_discretionary_amount_above_the_remainder(s1, manager):
    case = open_case(s1, refunded="20.00")

    error = assert_refused(lambda: services.case_approve(case=case, actor=manager, amount="39.999", note="x",
                                                         now=NOW), case, Code.AMOUNT_INVALID)
    above = assert_refused(lambda: services.case_approve(case=case, actor=manager, amount="40.00", note="x",
                                                         now=NOW), case, Code.AMOUNT_ABOVE_DECISION)

    assert "at most two decimals" in error.message
    assert "39.99 USD" in above.message


# --- S1-NOT-ELIGIBLE ------------------------------------------------------------------------


@pytest.mark.clause("S1-NOT-ELIGIBLE")
def test_it_refuses_an_ineligible_reason_citing_the_clause(s1, agent, manager):
    case = open_case(s1, reason="changed_mind")

    for actor in (agent, manager):
        error = assert_refused(lambda: services.case_approve(case=case, actor=actor, note="x", now=NOW), case,
                               Code.POLICY_BLOCKS)
        assert error.message.startswith("The policy does not allow a refund (S1-NOT-ELIGIBLE):")


@pytest.mark.clause("S1-NOT-ELIGIBLE")
def test_it_denies_an_ineligible_reason_citing_the_clause(s1, agent):
    case = open_case(s1, reason="changed_mind")

    denied = services.case_deny(case=case, actor=agent, reason="policy_exclusion", now=NOW)

    assert denied.state == State.DENIED
    assert last_event(denied).data == {"deny_reason": "policy_exclusion", "clauses": ["S1-NOT-ELIGIBLE"]}


# --- S1-STATUTORY ---------------------------------------------------------------------------


@pytest.mark.clause("S1-STATUTORY")
def test_it_approves_a_statutory_override_despite_the_policy(
    s1, manager, manager2, mailoutbox, django_capture_on_commit_callbacks
):
    case = open_case(s1, reason="changed_mind")

    with django_capture_on_commit_callbacks(execute=True):
        approved = services.case_approve_statutory(case=case, actor=manager, amount="30.00", basis=f"  {BASIS} ",
                                                   now=NOW)

    assert approved.state == State.APPROVED
    assert approved.approved_amount == Decimal("30.00")
    assert approved.statutory_override is True
    assert approved.statutory_basis == BASIS
    assert approved.approved_by == manager
    event = last_event(approved)
    assert (event.transition, event.from_state, event.to_state) == (
        "approve_statutory", State.REQUESTED, State.APPROVED)
    assert event.comment == BASIS
    assert event.data == {"amount": "30.00", "currency": "USD", "statutory_override": True,
                          "clauses": ["S1-STATUTORY"]}
    assert mail_names(mailoutbox) == ["Your refund is approved"]
    assert mailoutbox[0].from_email == S1_FROM
    assert approved.decision["explanation"] not in mailoutbox[0].body

    paid = services.case_pay(case=approved, actor=manager2, reference="re_stat", now=later(NOW, days=1))
    assert paid.payout.amount == Decimal("30.00")


@pytest.mark.clause("S1-STATUTORY")
def test_it_keeps_the_statutory_override_to_managers(s1, agent, outsider):
    case = open_case(s1, reason="changed_mind")

    for actor in (agent, outsider):
        error = assert_refused(lambda: services.case_approve_statutory(case=case, actor=actor, amount="10",
                                                                       basis=BASIS, now=NOW), case, Code.MANAGER_ONLY)
        assert error.message == "Only a support manager can do this (S1-STATUTORY)."


@pytest.mark.clause("S1-STATUTORY")
@pytest.mark.parametrize("basis", ["", "   ", None])
def test_it_needs_the_legal_basis_in_writing(s1, manager, basis):
    case = open_case(s1, reason="changed_mind")

    error = assert_refused(lambda: services.case_approve_statutory(case=case, actor=manager, amount="10",
                                                                   basis=basis, now=NOW), case, Code.NOTE_REQUIRED)

    assert error.message == "The legal basis (S1-STATUTORY) is required."


@pytest.mark.clause("H-CAP")
@pytest.mark.parametrize(("amount", "code"), [("60.00", Code.AMOUNT_ABOVE_REMAINDER), ("abc", Code.AMOUNT_INVALID),
                                              ("0", Code.AMOUNT_INVALID), (None, Code.AMOUNT_INVALID)])
def test_it_keeps_the_statutory_override_within_the_remainder(s1, manager, amount, code):
    case = open_case(s1, reason="changed_mind")

    error = assert_refused(lambda: services.case_approve_statutory(case=case, actor=manager, amount=amount,
                                                                   basis=BASIS, now=NOW), case, code)

    if code == Code.AMOUNT_ABOVE_REMAINDER:
        assert error.message == "The amount 60.00 is above the order's refundable remainder (59.99 USD, H-CAP)."


@pytest.mark.clause("S1-STATUTORY")
@pytest.mark.parametrize("persona", ["manager", "agent"])
def test_it_has_no_statutory_override_on_the_first_storefront(s0, persona, request):
    """The policy's reason comes before the role's: an agent is not told to find a manager."""
    case = open_case(s0, reason="changed_mind")
    actor = request.getfixturevalue(persona)

    error = assert_refused(lambda: services.case_approve_statutory(case=case, actor=actor, amount="10",
                                                                   basis=BASIS, now=NOW), case, Code.POLICY_BLOCKS)

    # Said without a clause: the statutory clause is the other storefront's, not this case's policy.
    assert error.message == "The storefront's policy version has no statutory override."


# --- S1-VERIFY and what the first storefront's clauses do not give ---------------------------


def test_it_asks_for_evidence_from_the_support_address(s1, agent, mailoutbox, django_capture_on_commit_callbacks):
    case = open_case(s1, reason="technical_issue", email="fan@example.org")

    with django_capture_on_commit_callbacks(execute=True):
        waiting = services.case_request_evidence(case=case, actor=agent, message="Send the error code.", now=NOW)
        back = services.case_evidence_received(case=waiting, actor=agent, now=later(NOW, days=2))

    assert waiting.state == State.EVIDENCE_REQUESTED
    assert waiting.evidence_due_at == later(NOW, days=7)
    assert back.state == State.REQUESTED
    assert mail_names(mailoutbox) == ["We need a little more information"]
    assert mailoutbox[0].from_email == S1_FROM
    assert mailoutbox[0].to == ["fan@example.org"]
    assert "Send the error code." in mailoutbox[0].body


def test_it_has_no_fix_first_rule(s1, agent):
    case = open_case(s1, reason="technical_issue")

    assert_refused(lambda: services.case_start_fix(case=case, actor=agent, now=NOW), case, Code.POLICY_BLOCKS)


def test_it_has_no_outage_extension(s1, agent):
    case = open_case(s1, reason="server_outage", outage_hours=100, purchased_at=BEFORE_OUTAGE)

    error = assert_refused(lambda: services.case_extend(case=case, actor=agent, bonus_days=3, now=NOW), case,
                           Code.POLICY_BLOCKS)

    assert "manager discretion" in error.message


@pytest.mark.clause("H-DUPLICATE")
def test_it_refunds_a_duplicate_charge_in_full_even_after_delivery(s1, agent):
    case = open_case(s1, reason="duplicate_payment", requested_at=at("2026-03-01 10:00"))

    approved = services.case_approve(case=case, actor=agent, now=at("2026-03-01 11:00"))

    assert approved.approved_amount == PRICE
    assert approved.decision["clauses"] == ["H-DUPLICATE"]
