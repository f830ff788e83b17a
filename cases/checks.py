"""Reads shared by the services and the admin: may this user take this transition at this moment, and if not, why.

Every check is asked at a moment the caller gives (``now``): the page asks at the moment it shows,
a service at the moment it acts, the deadline sweep at the moment of its run.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from cases import conditions
from cases.conditions import Condition, Permission
from cases.models import RefundCase
from cases.states import CLOSED_STATES
from core.errors import CaseActionError, Code

if TYPE_CHECKING:
    from django.contrib.auth.models import User

PERMISSION_NAMES = {
    conditions.can_work: "work refund cases",
    conditions.can_approve: "approve refunds",
    conditions.can_override: "statutory override",
    conditions.can_extend: "work refund cases",
    conditions.can_withdraw: "work refund cases",
    conditions.can_deny: "decide consumer-law claims",
    conditions.can_pay: "mark refunds paid",
}


def _guards(case: RefundCase, name: str) -> tuple[tuple[Condition, ...], Permission | None] | None:
    """The conditions and permission of transition ``name`` from the case's state (``models.guarded``),
    or ``None`` if it cannot be taken from that state."""
    meta = getattr(case, name)._django_fsm
    if not meta.has_transition(case.state):
        return None
    custom = meta.get_transition(case.state).custom
    return custom["conditions"], custom["permission"]


def transition_error(*, case: RefundCase, user: User | None, name: str, now: datetime) -> CaseActionError | None:
    """Why ``user`` may not take transition ``name`` at ``now``, or ``None`` if they may.

    ``user=None`` is the system (sweeps), which needs no permission.
    """
    guards = _guards(case, name)
    if guards is None:
        return CaseActionError(Code.WRONG_STATE, state=case.state_phrase)
    required, permission = guards
    # The policy speaks first: "not on this storefront's policy" says more than "managers only".
    for condition in required:
        if not condition(case, now):
            return CaseActionError(Code.POLICY_BLOCKS, why=condition.why(case, now))
    if user is not None and permission is not None and not permission(case, user, now):
        return _permission_error(case=case, user=user, permission=permission, now=now)
    return None


def extension_error(*, case: RefundCase, user: User, bonus_days: int, now: datetime) -> CaseActionError | None:
    """Why ``user`` may not extend by the lost days plus ``bonus_days`` at ``now``, or ``None``."""
    if conditions.can_extend(case, user, now, bonus_days):
        return None
    return _permission_error(case=case, user=user, permission=conditions.can_extend, now=now, bonus_days=bonus_days)


def _permission_error(
    *, case: RefundCase, user: User, permission: Permission, now: datetime, bonus_days: int = 0,
) -> CaseActionError:
    if permission is conditions.can_pay and user.has_perm("cases.pay_refundcase"):
        return CaseActionError(Code.FOUR_EYES)
    if permission is conditions.can_approve and user.has_perm("cases.work_refundcase"):
        return CaseActionError(Code.MANAGER_ONLY, why="S1-DISCRETION: the decision is at a manager's discretion")
    if permission is conditions.can_extend and user.has_perm("cases.work_refundcase"):
        lost = conditions.extension_days_asked(case, now)
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


def evidence_error(*, case: RefundCase, user: User | None) -> CaseActionError | None:
    """Why ``user`` may not add evidence to the case now, or ``None``; ``evidence_add`` checks the same."""
    if user is not None and not (user.has_perm("cases.work_refundcase") and user.has_perm("cases.add_evidence")):
        return CaseActionError(Code.NO_PERMISSION, permission="add evidence")
    if case.state in CLOSED_STATES:
        return CaseActionError(
            Code.INVALID_INPUT,
            why=f"Case {case.number} is closed ({case.state_phrase}); evidence can no longer be added.",
        )
    return None
