"""Named FSM conditions and permissions for refund cases.

Each condition is a predicate on the case and carries ``why(case)``: the sentence the admin shows
next to a blocked button and the service puts in its refusal. The policy facts come from
``case.evaluate()``, so the engine stays the only place a clause is written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from cases.states import OPEN_STATES, Resolution, State
from rules.engine import Outcome


def _cited(case, suffix: str) -> str:
    from policies.selectors import cited

    return cited(case.order, suffix)

if TYPE_CHECKING:
    from cases.models import RefundCase


def _now(case: RefundCase) -> datetime:
    # Services pin the evaluation time so that a check and the action it guards agree.
    return getattr(case, "as_of", None) or timezone.now()


def _decision(case: RefundCase):
    return case.evaluate(as_of=_now(case))


def explained(why: Callable[[RefundCase], str]):
    def wrap(predicate):
        predicate.why = why
        return predicate

    return wrap


def _words(outcome: str) -> str:
    # "full_refund" -> "full refund": these sentences are shown to agents and customers.
    return str(outcome).replace("_", " ")


def _clauses(decision) -> str:
    return ", ".join(decision.clauses) or "no clause"


def _refund_blocked_why(case: RefundCase) -> str:
    decision = _decision(case)
    if decision.outcome == Outcome.AWAITING_FIX and case.fix_deadline:
        left = case.fix_deadline - _now(case)
        hours, minutes = divmod(max(int(left.total_seconds() // 60), 0), 60)
        return (
            f"The fix window is still open for {hours} h {minutes:02d} min "
            f"({_clauses(decision)}): a refund is allowed only if the issue is not fixed in time."
        )
    if decision.outcome == Outcome.NEEDS_FIX_ATTEMPT:
        return f"A fix attempt must be recorded first ({_clauses(decision)})."
    if decision.outcome == Outcome.RESOLVED:
        return f"The issue was resolved ({_clauses(decision)}): no refund is due."
    return f"The policy does not allow a refund ({_clauses(decision)}): {decision.explanation}"


@explained(lambda case: "Confirm the reason first: the request came without one, and the policy "
                        "decides by reason (e.g. S0-NO-CHANGE, S0-FIX-FIRST).")
def reason_confirmed(case: RefundCase) -> bool:
    """Requests that arrive without a reason code (e-mail) are judged as 'other' until an agent says."""
    return case.reason_confirmed


@explained(_refund_blocked_why)
def refund_allowed_now(case: RefundCase) -> bool:
    """The policy decision, taken now, lets money move (any refund outcome with an amount)."""
    return _decision(case).allows_refund


@explained(lambda case: f"No fix attempt is needed: the policy says {_words(_decision(case).outcome)}.")
def fix_attempt_needed(case: RefundCase) -> bool:
    """S0-FIX-FIRST: a technical issue with no fix attempt yet."""
    return _decision(case).outcome == Outcome.NEEDS_FIX_ATTEMPT


@explained(lambda case: "The fix window has not run out yet.")
def fix_window_over(case: RefundCase) -> bool:
    """S0-FIX-48H: the attempt is still pending and its deadline has come (at exactly 48 h it has run out)."""
    return case.fix_outcome == "pending" and case.fix_deadline is not None and _now(case) >= case.fix_deadline


@explained(lambda case: "The evidence request is not overdue after a reminder.")
def evidence_overdue_after_reminder(case: RefundCase) -> bool:
    return (
        case.evidence_reminded_at is not None
        and case.evidence_due_at is not None
        and _now(case) > case.evidence_due_at
    )


@explained(lambda case: f"Only an outage of more than the guaranteed hours can be extended "
                        f"(the policy says {_words(_decision(case).outcome)}, {_clauses(_decision(case))}).")
def extension_offered(case: RefundCase) -> bool:
    """S0-OUTAGE: the decision offers a refund or an extension."""
    return _decision(case).outcome == Outcome.REFUND_OR_EXTENSION


@explained(lambda case: "The subscription was already extended for this outage (S0-OUTAGE): reopening "
                        "would compensate it twice. Open a new case if something else went wrong.")
def not_extended(case: RefundCase) -> bool:
    """A case closed by an extension stays closed: the customer already has the days."""
    return case.resolution != Resolution.EXTENDED


@explained(lambda case: "The order has another open case; work that one instead.")
def no_other_open_case(case: RefundCase) -> bool:
    """One open case per order (the database holds it too): reopening must not make a second.

    The case page has read the order's other cases already (``order_cases``, in the same request);
    the services ask the database, under the case's lock.
    """
    known = getattr(case, "order_cases", None)
    if known is not None:
        return not any(other.state in OPEN_STATES for other in known)
    return not type(case).objects.filter(order_id=case.order_id, state__in=list(OPEN_STATES)).exclude(
        pk=case.pk).exists()


@explained(lambda case: "The order's subscription was never delivered, so there is nothing to extend "
                        "(an undelivered order is refunded instead).")
def subscription_delivered(case: RefundCase) -> bool:
    """An extension adds days to a delivered subscription; ``case_extend`` needs one."""
    subscription = getattr(case.order, "subscription", None)
    return subscription is not None and subscription.delivered_at is not None


@explained(lambda case: f"The storefront's policy version has no statutory override{_cited(case, 'STATUTORY')}.")
def statutory_override_available(case: RefundCase) -> bool:
    from policies.selectors import policy_for_order

    return policy_for_order(case.order).statutory_override


@explained(lambda case: f"The order's refundable remainder ({case.order.refundable_remainder} "
                        f"{case.order.currency}) is less than the approved amount (H-CAP).")
def remainder_covers_approval(case: RefundCase) -> bool:
    """H-CAP at payout: another refund may have been paid on the order since the approval."""
    return case.approved_amount is not None and case.approved_amount <= case.order.refundable_remainder


# --- permissions (instance, user) ---------------------------------------------------------


def can_work(case: RefundCase, user) -> bool:
    return user.has_perm("cases.work_refundcase")


def can_approve(case: RefundCase, user) -> bool:
    """Agents approve what the policy grants; discretionary decisions are managers' (S1-DISCRETION)."""
    if not user.has_perm("cases.work_refundcase"):
        return False
    if _decision(case).outcome == Outcome.MANAGER_DISCRETION:
        return user.has_perm("cases.approve_exception")
    return True


def extension_days_asked(case: RefundCase, bonus_days: int = 0) -> int:
    """S0-OUTAGE: the lost days the decision counts plus the bonus the agent adds."""
    return (_decision(case).extension_days or 0) + bonus_days


def extension_over_limit(case: RefundCase, bonus_days: int = 0) -> bool:
    return case.order.storefront.extension_needs_manager(extension_days_asked(case, bonus_days))


def can_extend(case: RefundCase, user, bonus_days: int = 0) -> bool:
    """Agents extend up to the storefront's limit; longer extensions are a manager's, like discretionary refunds.

    The FSM asks without a bonus (the page, before the click: the lost days alone may be over the
    limit); the service asks again with the bonus given.
    """
    if not user.has_perm("cases.work_refundcase"):
        return False
    if extension_over_limit(case, bonus_days):
        return user.has_perm("cases.approve_exception")
    return True


def can_deny(case: RefundCase, user) -> bool:
    """A customer who invokes their rights under local law gets a manager's answer (S1-STATUTORY)."""
    if not user.has_perm("cases.work_refundcase"):
        return False
    if case.statutory_claim:
        return user.has_perm("cases.approve_exception")
    return True


def can_withdraw(case: RefundCase, user) -> bool:
    """Anyone working cases withdraws an open request; cancelling a manager's approval takes a manager."""
    if not user.has_perm("cases.work_refundcase"):
        return False
    if case.state == State.APPROVED and case.approved_as_exception:
        return user.has_perm("cases.approve_exception")
    return True


def can_override(case: RefundCase, user) -> bool:
    return user.has_perm("cases.approve_exception")


def can_pay(case: RefundCase, user) -> bool:
    """H-FOUR-EYES: the pay permission, and not the approver unless the storefront switched it off."""
    if not user.has_perm("cases.pay_refundcase"):
        return False
    if case.order.storefront.four_eyes and case.approved_by_id == user.pk:
        return False
    return True
