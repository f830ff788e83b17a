"""Paying an approved refund."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from cases import conditions
from cases.models import CaseEvent, Payout, RefundCase
from cases.services.base import Step, run_transition, seen
from cases.states import State
from core.errors import CaseActionError, Code
from orders.models import Order
from policies.selectors import cited, policy_for_order
from rules.engine import PAYMENT_METHODS, add_business_days

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def case_pay(
    *, case: RefundCase | int, actor: User, reference: str, method: str | None = None, method_note: str = "",
    now: datetime | None = None, expected_state: str | None = None,
) -> RefundCase:
    """Mark an approved refund paid: one payout, the order's refunded total, the arrival window.

    S1-SAME-METHOD: the payout method defaults to the order's; another needs a note.
    S0-ARRIVAL / S1-ARRIVAL: the expected arrival dates are recorded and mailed.
    """
    now = now or timezone.now()
    reference = (reference or "").strip()
    if not reference:
        raise CaseActionError(Code.REFERENCE_REQUIRED)
    if len(reference) > Payout._meta.get_field("reference").max_length:
        raise CaseActionError(Code.INVALID_INPUT, why="The payout reference is too long (120 characters at most).")
    if method is not None and method not in PAYMENT_METHODS:
        raise CaseActionError(Code.INVALID_INPUT, why=f"Unknown payout method {method!r}.")

    def pay_out(locked: RefundCase) -> None:
        # Re-read the order under its row lock. The copy joined to the case row is the snapshot from
        # before this transaction waited for the case lock, so a chargeback that held that lock and
        # committed meanwhile is only seen here; the transition's own H-CAP condition judged the
        # stale copy. Two payouts on one order cannot race (one open case per order is a database
        # constraint), and chargebacks lock the case first; the order lock keeps the totals right
        # against any writer that takes only the order's row.
        order = Order.objects.select_for_update().get(pk=locked.order_id)
        locked.order.refunded_amount = order.refunded_amount
        locked.order.charged_back_amount = order.charged_back_amount
        if not conditions.remainder_covers_approval(locked, now):
            raise CaseActionError(Code.POLICY_BLOCKS, why=conditions.remainder_covers_approval.why(locked, now))
        payout_method = method or order.payment_method
        note = method_note.strip()
        if payout_method != order.payment_method and not note:
            raise CaseActionError(
                Code.NOTE_REQUIRED,
                what=f"A note on why the original payment method is not used{cited(order, 'SAME-METHOD')}",
            )
        window = policy_for_order(locked.order).arrival_for(payout_method)
        amount = locked.approved_amount
        Payout.objects.create(
            case=locked, order=order, amount=amount, currency=order.currency, method=payout_method,
            method_note=note, reference=reference, paid_by=actor, paid_at=now,
            arrival_min_days=window.min, arrival_max_days=window.max, arrival_worst_days=window.worst,
            expected_by=add_business_days(timezone.localdate(now), window.max),
            expected_worst_by=add_business_days(timezone.localdate(now), window.worst),
        )
        order.refunded_amount += amount
        if order.status != Order.Status.CHARGEBACK:  # the dispute stays the order's headline
            order.status = (
                Order.Status.REFUNDED if order.refunded_amount >= order.amount else Order.Status.PARTIALLY_REFUNDED
            )
        order.save(update_fields=["refunded_amount", "status"])
        step.data = {"amount": f"{amount:.2f}", "currency": order.currency, "method": payout_method,
                     "reference": reference, "arrival_business_days": window.as_dict()}
        if not locked.order.storefront.four_eyes:
            # H-FOUR-EYES was off: the history says so, and whether the approver paid their own approval.
            self_paid = actor is not None and locked.approved_by_id == actor.pk
            step.data["four_eyes"] = "switched off on this storefront" + (
                "; the approver paid it themselves" if self_paid else ""
            )

    step = Step("pay", {}, visibility=CaseEvent.Visibility.CUSTOMER, email="paid")
    return run_transition(
        case=case, actor=actor, step=step, now=now, expected_state=seen(case, State.APPROVED, expected_state), after=pay_out,
    )
