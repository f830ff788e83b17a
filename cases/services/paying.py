"""The checks and the writes every way of paying a case shares: the method, H-CAP on the locked
order, the payout row and the order's refunded total."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from cases import conditions
from cases.models import Payout, RefundCase
from cases.services.base import Step
from core.errors import CaseActionError, Code
from orders.models import Order
from policies.selectors import cited, policy_for_order
from rules.engine import add_business_days

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def checked_method(case: RefundCase, *, method: str | None, method_note: str, now: datetime) -> tuple[Order, str]:
    """The payout method (the order's unless given), refused without a note when it is another
    (S1-SAME-METHOD), and H-CAP judged on the order as it is now, under its row lock.

    The copy of the order joined to the case row is the snapshot from before this transaction waited
    for the case lock, so a chargeback that held that lock and committed meanwhile is only seen here;
    the transition's own H-CAP condition judged the stale copy. Two payouts on one order cannot race
    (one open case per order is a database constraint), and chargebacks lock the case first; the
    order lock keeps the totals right against any writer that takes only the order's row.
    """
    order = Order.objects.select_for_update().get(pk=case.order_id)
    case.order.refunded_amount = order.refunded_amount
    case.order.charged_back_amount = order.charged_back_amount
    if not conditions.remainder_covers_approval(case, now):
        raise CaseActionError(Code.POLICY_BLOCKS, why=conditions.remainder_covers_approval.why(case, now))
    payout_method = method or order.payment_method
    if payout_method != order.payment_method and not method_note.strip():
        raise CaseActionError(
            Code.NOTE_REQUIRED,
            what=f"A note on why the original payment method is not used{cited(order, 'SAME-METHOD')}",
        )
    return order, payout_method


def write_payout(
    case: RefundCase, *, order: Order, step: Step, paid_by: User, reference: str, method: str, method_note: str,
    shop_refund_id: str, now: datetime,
) -> Payout:
    """The payout row of a case being paid (``pay`` has run on it, the order row is locked by
    ``checked_method``), the order's refunded total and status, and what the history records."""
    window = policy_for_order(case.order).arrival_for(method)
    amount = case.approved_amount
    payout = Payout.objects.create(
        case=case, order=order, amount=amount, currency=order.currency, method=method,
        method_note=method_note, reference=reference, shop_refund_id=shop_refund_id, paid_by=paid_by, paid_at=now,
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
    step.data = {"amount": f"{amount:.2f}", "currency": order.currency, "method": method,
                 "reference": reference, "arrival_business_days": window.as_dict()}
    if not case.order.storefront.four_eyes:
        # H-FOUR-EYES was off: the history says so, and whether the approver paid their own approval.
        self_paid = case.approved_by_id == paid_by.pk
        step.data["four_eyes"] = "switched off on this storefront" + (
            "; the approver paid it themselves" if self_paid else ""
        )
    return payout
