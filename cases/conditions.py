"""Named FSM conditions and permissions for refund cases.

Each condition is a predicate on the case at a moment, ``condition(case, now)``, and carries
``why(case, now)``: the sentence the admin shows next to a blocked button and the service puts in
its refusal. Permissions are ``permission(case, user, now)``. The moment is always given by the
caller (``cases.checks``), never read from a clock here nor from the case: a check and the action it
guards judge the same instant, and one case can be judged at two instants side by side. The policy
facts come from ``case.evaluate(as_of=now)``, so the engine stays the only place a clause is written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.formats import date_format

from cases.refund_channels import channel_label
from cases.states import OPEN_STATES, Resolution, State
from policies.selectors import cited, policy_for_order
from rules.engine import Decision, Outcome

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from cases.models import RefundCase

Condition = Callable[["RefundCase", datetime], bool]
Permission = Callable[["RefundCase", "User", datetime], bool]


def _cited(case: RefundCase, suffix: str) -> str:

    return cited(case.order, suffix)


def _decision(case: RefundCase, now: datetime) -> Decision:
    return case.evaluate(as_of=now)


def explained(why: Callable[[RefundCase, datetime], str]) -> Callable[[Condition], Condition]:
    def wrap(predicate: Condition) -> Condition:
        predicate.why = why
        return predicate

    return wrap


def _words(outcome: str) -> str:
    # "full_refund" -> "full refund": these sentences are shown to agents and customers.
    return str(outcome).replace("_", " ")


def _clauses(decision: Decision) -> str:
    return ", ".join(decision.clauses) or "no clause"


def _refund_blocked_why(case: RefundCase, now: datetime) -> str:
    decision = _decision(case, now)
    if decision.outcome == Outcome.AWAITING_FIX and case.fix_deadline:
        left = case.fix_deadline - now
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


@explained(lambda case, now: "Confirm the reason first: the request came without one, and the policy "
                             "decides by reason (e.g. S0-NO-CHANGE, S0-FIX-FIRST).")
def reason_confirmed(case: RefundCase, now: datetime) -> bool:
    """Requests that arrive without a reason code (e-mail) are judged as 'other' until an agent says."""
    return case.reason_confirmed


@explained(_refund_blocked_why)
def refund_allowed_now(case: RefundCase, now: datetime) -> bool:
    """The policy decision, taken at ``now``, lets money move (any refund outcome with an amount)."""
    return _decision(case, now).allows_refund


@explained(lambda case, now: f"No fix attempt is needed: the policy says {_words(_decision(case, now).outcome)}.")
def fix_attempt_needed(case: RefundCase, now: datetime) -> bool:
    """S0-FIX-FIRST: a technical issue with no fix attempt yet."""
    return _decision(case, now).outcome == Outcome.NEEDS_FIX_ATTEMPT


@explained(lambda case, now: "The fix window has not run out yet.")
def fix_window_over(case: RefundCase, now: datetime) -> bool:
    """S0-FIX-48H: the attempt is still pending and its deadline has come (at exactly 48 h it has run out)."""
    return case.fix_outcome == "pending" and case.fix_deadline is not None and now >= case.fix_deadline


@explained(lambda case, now: "The evidence request is not overdue after a reminder.")
def evidence_overdue_after_reminder(case: RefundCase, now: datetime) -> bool:
    return (
        case.evidence_reminded_at is not None
        and case.evidence_due_at is not None
        and now > case.evidence_due_at
    )


@explained(lambda case, now: f"Only an outage of more than the guaranteed hours can be extended (the policy says "
                             f"{_words(_decision(case, now).outcome)}, {_clauses(_decision(case, now))}).")
def extension_offered(case: RefundCase, now: datetime) -> bool:
    """S0-OUTAGE: the decision offers a refund or an extension."""
    return _decision(case, now).outcome == Outcome.REFUND_OR_EXTENSION


@explained(lambda case, now: "The subscription was already extended for this outage (S0-OUTAGE): reopening "
                             "would compensate it twice. Open a new case if something else went wrong.")
def not_extended(case: RefundCase, now: datetime) -> bool:
    """A case closed by an extension stays closed: the customer already has the days."""
    return case.resolution != Resolution.EXTENDED


@explained(lambda case, now: "The order has another open case; work that one instead.")
def no_other_open_case(case: RefundCase, now: datetime) -> bool:
    """One open case per order (the database holds it too): reopening must not make a second.

    The case page has read the order's other cases already (``order_cases``, in the same request);
    the services ask the database, under the case's lock.
    """
    known = getattr(case, "order_cases", None)
    if known is not None:
        return not any(other.state in OPEN_STATES for other in known)
    return not type(case).objects.filter(order_id=case.order_id, state__in=list(OPEN_STATES)).exclude(
        pk=case.pk).exists()


@explained(lambda case, now: "The order's subscription was never delivered, so there is nothing to extend "
                             "(an undelivered order is refunded instead).")
def subscription_delivered(case: RefundCase, now: datetime) -> bool:
    """An extension adds days to a delivered subscription; ``case_extend`` needs one."""
    subscription = getattr(case.order, "subscription", None)
    return subscription is not None and subscription.delivered_at is not None


@explained(lambda case, now: f"The storefront's policy version has no statutory override"
                             f"{_cited(case, 'STATUTORY')}.")
def statutory_override_available(case: RefundCase, now: datetime) -> bool:

    return policy_for_order(case.order).statutory_override


@explained(lambda case, now: f"The order's refundable remainder ({case.order.refundable_remainder} "
                             f"{case.order.currency}) is less than the approved amount (H-CAP).")
def remainder_covers_approval(case: RefundCase, now: datetime) -> bool:
    """H-CAP at payout: another refund may have been paid on the order since the approval."""
    return case.approved_amount is not None and case.approved_amount <= case.order.refundable_remainder


def _refund_waiting_why(case: RefundCase, now: datetime) -> str:
    waiting = case.refund_requests.filter(status="sending").order_by("-requested_at").first()
    if waiting is None:  # settled since the check
        return "A refund of this case was just settled by the shop; reload the page."
    return (f"Refund sent, waiting for the shop ({channel_label(waiting.channel)}) since "
            f"{date_format(timezone.localtime(waiting.requested_at), 'DATETIME_FORMAT')}: the case is paid when the "
            "shop confirms it, and nothing is sent again or cancelled until it answers.")


@explained(_refund_waiting_why)
def no_refund_waiting(case: RefundCase, now: datetime) -> bool:
    """No refund of the case is out at a shop without a sure answer yet: paying again could pay twice,
    and an approval cancelled meanwhile could still be refunded (docs/shop.md).

    The case page has read it with the case (``refund_waiting``); the services ask the database.
    """
    if case.state != State.APPROVED:
        return True  # refunds are sent only for approved cases
    known = getattr(case, "refund_waiting", None)
    if known is not None:
        return not known
    return not case.refund_requests.filter(status="sending").exists()


# --- permissions (case, user, now) ----------------------------------------------------------


def can_work(case: RefundCase, user: User, now: datetime) -> bool:
    return user.has_perm("cases.work_refundcase")


def can_approve(case: RefundCase, user: User, now: datetime) -> bool:
    """Agents approve what the policy grants; discretionary decisions are managers' (S1-DISCRETION)."""
    if not user.has_perm("cases.work_refundcase"):
        return False
    if _decision(case, now).outcome == Outcome.MANAGER_DISCRETION:
        return user.has_perm("cases.approve_exception")
    return True


def extension_days_asked(case: RefundCase, now: datetime, bonus_days: int = 0) -> int:
    """S0-OUTAGE: the lost days the decision counts plus the bonus the agent adds."""
    return (_decision(case, now).extension_days or 0) + bonus_days


def extension_over_limit(case: RefundCase, now: datetime, bonus_days: int = 0) -> bool:
    return case.order.storefront.extension_needs_manager(extension_days_asked(case, now, bonus_days))


def can_extend(case: RefundCase, user: User, now: datetime, bonus_days: int = 0) -> bool:
    """Agents extend up to the storefront's limit; longer extensions are a manager's, like discretionary refunds.

    The transition's check asks without a bonus (the page, before the click: the lost days alone may
    be over the limit); the service asks again with the bonus given.
    """
    if not user.has_perm("cases.work_refundcase"):
        return False
    if extension_over_limit(case, now, bonus_days):
        return user.has_perm("cases.approve_exception")
    return True


def can_deny(case: RefundCase, user: User, now: datetime) -> bool:
    """A customer who invokes their rights under local law gets a manager's answer (S1-STATUTORY)."""
    if not user.has_perm("cases.work_refundcase"):
        return False
    if case.statutory_claim:
        return user.has_perm("cases.approve_exception")
    return True


def can_withdraw(case: RefundCase, user: User, now: datetime) -> bool:
    """Anyone working cases withdraws an open request; cancelling a manager's approval takes a manager."""
    if not user.has_perm("cases.work_refundcase"):
        return False
    if case.state == State.APPROVED and case.approved_as_exception:
        return user.has_perm("cases.approve_exception")
    return True


def can_override(case: RefundCase, user: User, now: datetime) -> bool:
    return user.has_perm("cases.approve_exception")


def can_pay(case: RefundCase, user: User, now: datetime) -> bool:
    """H-FOUR-EYES: the pay permission, and not the approver unless the storefront switched it off."""
    if not user.has_perm("cases.pay_refundcase"):
        return False
    if case.order.storefront.four_eyes and case.approved_by_id == user.pk:
        return False
    return True
