"""Which service runs each staff transition, given the cleaned form data."""

from __future__ import annotations

from collections.abc import Callable

from cases import services
from cases.models import RefundCase

Runner = Callable[[RefundCase, object, dict, str], RefundCase]


def _noted(service) -> Runner:
    def run(case, user, data, expected_state):
        return service(case=case, actor=user, note=data.get("note", ""), expected_state=expected_state)

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


RUNNERS: dict[str, Runner] = {
    "start_fix": _noted(services.case_start_fix),
    "fix_succeeded": _noted(services.case_fix_succeeded),
    "fix_failed": _noted(services.case_fix_failed),
    "request_evidence": _request_evidence,
    "evidence_received": _noted(services.case_evidence_received),
    "approve": _approve,
    "approve_statutory": _approve_statutory,
    "extend": _extend,
    "deny": _deny,
    "withdraw": _noted(services.case_withdraw),
    "pay": _pay,
}
