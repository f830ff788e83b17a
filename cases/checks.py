"""Reads shared by the services and the admin: may this user take this transition now, and if not, why."""

from __future__ import annotations

from cases import conditions
from cases.models import RefundCase
from cases.states import CLOSED_STATES
from core.errors import CaseActionError, Code

PERMISSION_NAMES = {
    conditions.can_work: "work refund cases",
    conditions.can_approve: "approve refunds",
    conditions.can_override: "statutory override",
    conditions.can_extend: "work refund cases",
    conditions.can_withdraw: "work refund cases",
    conditions.can_deny: "decide consumer-law claims",
    conditions.can_pay: "mark refunds paid",
}


def transition_error(*, case: RefundCase, user, name: str) -> CaseActionError | None:
    """Why ``user`` may not take transition ``name`` now, or ``None`` if they may.

    ``user=None`` is the system (sweeps), which needs no permission.
    """
    meta = getattr(case, name)._django_fsm
    if not meta.has_transition(case.state):
        return CaseActionError(Code.WRONG_STATE, state=case.state_phrase)
    transition = meta.get_transition(case.state)
    # The policy speaks first: "not on this storefront's policy" says more than "managers only".
    for condition in transition.conditions:
        if not condition(case):
            return CaseActionError(Code.POLICY_BLOCKS, why=condition.why(case))
    if user is not None and not transition.has_perm(case, user):
        return _permission_error(case=case, user=user, permission=transition.permission)
    return None


def extension_error(*, case: RefundCase, user, bonus_days: int) -> CaseActionError | None:
    """Why ``user`` may not extend by the lost days plus ``bonus_days``, or ``None``."""
    if conditions.can_extend(case, user, bonus_days):
        return None
    return _permission_error(case=case, user=user, permission=conditions.can_extend, bonus_days=bonus_days)


def _permission_error(*, case: RefundCase, user, permission, bonus_days: int = 0) -> CaseActionError:
    if permission is conditions.can_pay and user.has_perm("cases.pay_refundcase"):
        return CaseActionError(Code.FOUR_EYES)
    if permission is conditions.can_approve and user.has_perm("cases.work_refundcase"):
        return CaseActionError(Code.MANAGER_ONLY, why="S1-DISCRETION: the decision is at a manager's discretion")
    if permission is conditions.can_extend and user.has_perm("cases.work_refundcase"):
        lost = conditions.extension_days_asked(case)
        days = f"{lost} lost day(s)" + (f" + {bonus_days} bonus day(s)" if bonus_days else "")
        limit = case.order.storefront.extension_limit_days
        return CaseActionError(
            Code.MANAGER_ONLY, why=f"S0-OUTAGE: {days} is more than this storefront's extension limit of {limit} days"
        )
    if permission is conditions.can_withdraw and user.has_perm("cases.work_refundcase"):
        return CaseActionError(
            Code.MANAGER_ONLY, why="a manager approved this refund on their own authority; only a manager can cancel it"
        )
    if permission is conditions.can_override:
        return CaseActionError(Code.MANAGER_ONLY, why="S1-STATUTORY")
    return CaseActionError(Code.NO_PERMISSION, permission=PERMISSION_NAMES.get(permission, "this action"))


def evidence_error(*, case: RefundCase, user) -> CaseActionError | None:
    """Why ``user`` may not add evidence to the case now, or ``None``; ``evidence_add`` checks the same."""
    if user is not None and not (user.has_perm("cases.work_refundcase") and user.has_perm("cases.add_evidence")):
        return CaseActionError(Code.NO_PERMISSION, permission="add evidence")
    if case.state in CLOSED_STATES:
        return CaseActionError(
            Code.INVALID_INPUT,
            why=f"Case {case.number} is closed ({case.state_phrase}); evidence can no longer be added.",
        )
    return None
