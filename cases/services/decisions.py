"""Deciding a case: approve, statutory approval, extension instead of money, denial."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import timezone

from cases.checks import extension_error
from cases.models import CaseEvent, RefundCase
from cases.services.base import Step, parse_money, required_text, run_transition
from cases.states import DenyReason
from core.errors import CaseActionError, Code
from orders.models import Extension, Subscription
from policies.selectors import cited
from rules.engine import Outcome

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def case_approve(
    *, case: RefundCase | int, actor: User, amount: Decimal | str | None = None, note: str = "",
    now: datetime | None = None, expected_state: str | None = None,
) -> RefundCase:
    """Approve what the policy allows now; never above the decision's amount (H-CAP included).

    Manager-discretion decisions (S1-DISCRETION) need a manager and a written justification.
    """
    now = now or timezone.now()

    def validate(locked: RefundCase) -> None:
        decision = locked.evaluate(as_of=now)
        granted = parse_money(amount) if amount not in (None, "") else decision.refund_amount
        if granted > decision.refund_amount:
            raise CaseActionError(
                Code.AMOUNT_ABOVE_DECISION,
                amount=f"{granted:.2f}",
                limit=f"{decision.refund_amount:.2f} {decision.currency}",
                clauses=", ".join(decision.clauses),
            )
        if decision.outcome == Outcome.MANAGER_DISCRETION:
            step.kwargs["note"] = required_text(note, f"A written justification{cited(locked.order, 'DISCRETION')}")
            step.kwargs["exception"] = True
        step.kwargs["amount"] = granted
        step.data = {"amount": f"{granted:.2f}", "currency": decision.currency, "outcome": decision.outcome}
        # The policy's explanation describes its own amount; a smaller or discretionary one gets none.
        as_decided = decision.outcome in (Outcome.FULL_REFUND, Outcome.PARTIAL_REFUND) and (
            granted == decision.refund_amount
        )
        step.email_extra = {"customer_message": decision.explanation if as_decided else ""}

    # Internal: the note is the staff's justification; the customer learns of the approval by e-mail.
    step = Step("approve", {"by": actor, "at": now, "note": note.strip()}, comment=note.strip(), email="approved")
    return run_transition(case=case, actor=actor, step=step, now=now, expected_state=expected_state, before=validate)


def case_approve_statutory(
    *, case: RefundCase | int, actor: User, amount: Decimal | str, basis: str, now: datetime | None = None,
    expected_state: str | None = None,
) -> RefundCase:
    """S1-STATUTORY: a manager approves despite the policy, citing the law. H-CAP still holds."""
    now = now or timezone.now()

    def validate(locked: RefundCase) -> None:
        # `case` may be a primary key: the clause is read from the locked row's order.
        step.kwargs["basis"] = step.comment = required_text(basis, f"The legal basis{cited(locked.order, 'STATUTORY')}")
        granted = parse_money(amount)
        remainder = locked.order.refundable_remainder
        if granted > remainder:
            raise CaseActionError(
                Code.AMOUNT_ABOVE_REMAINDER, amount=f"{granted:.2f}", limit=f"{remainder:.2f} {locked.order.currency}"
            )
        step.kwargs["amount"] = granted
        step.data = {"amount": f"{granted:.2f}", "currency": locked.order.currency, "statutory_override": True,
                     "clauses": ["S1-STATUTORY"]}

    step = Step("approve_statutory", {"by": actor, "at": now, "basis": basis}, comment=basis,
                 email="approved")
    return run_transition(case=case, actor=actor, step=step, now=now, expected_state=expected_state, before=validate)


MAX_BONUS_DAYS = 30  # a bonus period, not a free subscription: a month at most, whoever grants it


def case_extend(
    *, case: RefundCase | int, actor: User, bonus_days: int = 0, note: str = "", now: datetime | None = None,
    expected_state: str | None = None,
) -> RefundCase:
    """S0-OUTAGE: add the lost days plus ``bonus_days`` to the subscription instead of a refund."""
    now = now or timezone.now()
    if isinstance(bonus_days, bool) or not isinstance(bonus_days, int) or not 0 <= bonus_days <= MAX_BONUS_DAYS:
        raise CaseActionError(
            Code.INVALID_INPUT, why=f"Bonus days must be a whole number from 0 to {MAX_BONUS_DAYS}."
        )

    def add_days(locked: RefundCase) -> None:
        # The transition's check counted the lost days alone; the bonus may take the extension over the limit.
        refused = extension_error(case=locked, user=actor, bonus_days=bonus_days, now=now)
        if refused is not None:
            raise refused
        # Locked after the case, as everywhere: a chargeback may be suspending this subscription.
        subscription = Subscription.objects.select_for_update().filter(order_id=locked.order_id).first()
        if subscription is None or subscription.delivered_at is None:
            raise CaseActionError(Code.INVALID_INPUT, why="The order has no delivered subscription to extend.")
        lost = locked.evaluate(as_of=now).extension_days or 0
        Extension.objects.create(
            subscription=subscription, case=locked, lost_days=lost, bonus_days=bonus_days, note=note,
            created_by=actor,
        )
        subscription.extension_days += lost + bonus_days
        subscription.save(update_fields=["extension_days"])
        step.data = {"lost_days": lost, "bonus_days": bonus_days}
        step.email_extra = {"lost_days": lost, "bonus_days": bonus_days, "days_added": lost + bonus_days}

    step = Step("extend", {}, comment=note, visibility=CaseEvent.Visibility.CUSTOMER, email="extended")
    return run_transition(case=case, actor=actor, step=step, now=now, expected_state=expected_state, before=add_days)


def case_deny(
    *, case: RefundCase | int, actor: User, reason: str, note: str = "", now: datetime | None = None,
    expected_state: str | None = None,
) -> RefundCase:
    """Deny, citing the decision's clauses. Denying what the policy would refund needs a note."""
    now = now or timezone.now()
    if reason not in DenyReason.values:
        raise CaseActionError(Code.INVALID_INPUT, why=f"Unknown denial reason {reason!r}.")

    def validate(locked: RefundCase) -> None:
        decision = locked.evaluate(as_of=now)
        if decision.allows_refund:
            step.comment = required_text(note, "A note explaining why a refund the policy allows is denied")
        step.data = {"deny_reason": reason, "clauses": list(decision.clauses)}
        # The policy's own words only when the policy denies; otherwise the agent's reason.
        step.email_extra = {"customer_message": decision.explanation if not decision.allows_refund else step.comment}

    step = Step("deny", {"reason": reason}, comment=note.strip(), visibility=CaseEvent.Visibility.CUSTOMER,
                 email="denied")
    return run_transition(case=case, actor=actor, step=step, now=now, expected_state=expected_state, before=validate)
