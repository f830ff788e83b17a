"""The staff transitions: one row each with its label, form, service runner and button style."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cases import forms, services
from cases.models import RefundCase

Runner = Callable[[RefundCase, object, dict, str], RefundCase]


def _noted(service) -> Runner:
    def run(case, user, data, expected_state):
        return service(case=case, actor=user, note=data.get("note", ""), expected_state=expected_state)

    return run


def _shared(service) -> Runner:
    def run(case, user, data, expected_state):
        return service(case=case, actor=user, note=data.get("note", ""),
                       customer_visible=data.get("customer_visible", False), expected_state=expected_state)

    return run


def _approve(case, user, data, expected_state):
    return services.case_approve(
        case=case, actor=user, amount=data["amount"], note=data.get("note", ""), expected_state=expected_state
    )


def _approve_statutory(case, user, data, expected_state):
    return services.case_approve_statutory(
        case=case, actor=user, amount=data["amount"], basis=data["basis"], expected_state=expected_state
    )


def _request_evidence(case, user, data, expected_state):
    return services.case_request_evidence(
        case=case, actor=user, message=data["message"], expected_state=expected_state
    )


def _extend(case, user, data, expected_state):
    return services.case_extend(
        case=case, actor=user, bonus_days=data["bonus_days"], note=data.get("note", ""), expected_state=expected_state
    )


def _deny(case, user, data, expected_state):
    return services.case_deny(
        case=case, actor=user, reason=data["reason"], note=data.get("note", ""), expected_state=expected_state
    )


def _pay(case, user, data, expected_state):
    return services.case_pay(
        case=case, actor=user, reference=data["reference"], method=data["method"],
        method_note=data.get("method_note", ""), expected_state=expected_state,
    )


@dataclass(frozen=True)
class StaffTransition:
    """One transition staff take from the case page.

    Who may take it, and when, is not repeated here: the FSM transition's ``permission`` and
    ``conditions`` on ``RefundCase`` decide, read through ``cases.checks.transition_error`` by both the
    page and the service.
    """

    name: str  # the RefundCase transition
    label: str  # button, history and messages
    form: type[forms.TransitionForm]
    run: Runner
    style: str = ""  # "go" for money moving or the case settled, "stop" for closing it without money


# In the order the case page offers them. The sweeps' own transitions (fix_window_expired,
# evidence_expired) are never offered. To add one: a row here, its service, its FSM transition.
STAFF_TRANSITIONS: tuple[StaffTransition, ...] = (
    StaffTransition("approve", "Approve refund", forms.ApproveForm, _approve, "go"),
    StaffTransition("pay", "Mark paid", forms.PayForm, _pay, "go"),
    StaffTransition("start_fix", "Start a fix attempt", forms.SharedNoteForm, _shared(services.case_start_fix)),
    StaffTransition("fix_succeeded", "Fix worked", forms.SharedNoteForm, _shared(services.case_fix_succeeded)),
    StaffTransition("fix_failed", "Fix failed", forms.NoteForm, _noted(services.case_fix_failed)),
    StaffTransition("request_evidence", "Request evidence", forms.RequestEvidenceForm, _request_evidence),
    StaffTransition("evidence_received", "Evidence received", forms.NoteForm,
                    _noted(services.case_evidence_received)),
    StaffTransition("extend", "Extend the subscription instead", forms.ExtendForm, _extend, "go"),
    StaffTransition("approve_statutory", "Approve on statutory rights", forms.ApproveStatutoryForm,
                    _approve_statutory, "go"),
    StaffTransition("deny", "Deny", forms.DenyForm, _deny, "stop"),
    StaffTransition("withdraw", "Withdraw", forms.CustomerNoteForm, _noted(services.case_withdraw), "stop"),
    StaffTransition("reopen", "Reopen", forms.ReopenForm, _noted(services.case_reopen)),
)
BY_NAME: dict[str, StaffTransition] = {t.name: t for t in STAFF_TRANSITIONS}
TRANSITION_LABELS: dict[str, str] = {t.name: t.label for t in STAFF_TRANSITIONS}
