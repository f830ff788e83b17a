"""Refunds made in the connected shop, as an order's cases see them.

The shop's app writes the order's refunded total from the shop's refunds (each counted once, see
``orders.imports.engine.shop_refunded``) and then tells the order's open case here, in the same
transaction. What a refund made elsewhere means for a case is the policy's H-CAP: nothing can be paid
beyond the order's refundable remainder.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from cases import conditions
from cases.events import record_event
from cases.models import CaseEvent, RefundCase
from cases.states import OPEN_STATES, State
from orders.models import Order


def case_note_shop_refunds(*, order_id: int, refunded_before: Decimal, now: datetime | None = None) -> RefundCase | None:
    """The shop's own refunds raised order ``order_id``'s refunded total from ``refunded_before``.

    The order's open case (one at most) gets an internal event saying so. An approved case whose
    approval the remainder no longer covers (the shop refunded the order in full, or too much of it)
    cannot be paid (``conditions.remainder_covers_approval``, H-CAP) and is flagged for a manager,
    who cancels the approval or decides what else is owed. Returns the case told, if any.

    Runs in the caller's transaction and locks the case before the order, as every case service does.
    """
    now = now or timezone.now()
    case = (RefundCase.objects.select_for_update(of=("self",)).select_related("order__storefront")
            .filter(order_id=order_id, state__in=list(OPEN_STATES)).first())
    if case is None:
        return None
    order = Order.objects.select_for_update().get(pk=order_id)
    added = order.refunded_amount - refunded_before
    if added <= 0:
        return None
    case.order.refunded_amount = order.refunded_amount
    case.order.charged_back_amount = order.charged_back_amount
    remainder = case.order.refundable_remainder
    in_full = remainder <= 0
    comment = (f"The shop refunded {added:.2f} {order.currency} on order #{order.number} itself "
               f"({'the order is now refunded in full' if in_full else f'{remainder:.2f} {order.currency} is left'}).")
    data = {"refunded_before": f"{refunded_before:.2f}", "refunded": f"{order.refunded_amount:.2f}",
            "remainder": f"{remainder:.2f}", "currency": order.currency}
    if case.state == State.APPROVED and not conditions.remainder_covers_approval(case, now):
        comment += (f" The approved {case.approved_amount:.2f} {order.currency} is more than what is left (H-CAP): "
                    "it cannot be paid, and the case is flagged for a manager.")
        case.flagged = True
        case.flag_reason = ("For a manager: the shop refunded this order " + ("in full" if in_full else "in part")
                            + "; the approval is no longer covered (H-CAP) and cannot be paid.")
        case.save(update_fields=["flagged", "flag_reason", "updated_at"])
        data["approval_blocked"] = True
    record_event(case, actor=None, kind=CaseEvent.Kind.SHOP_REFUND, comment=comment, data=data, now=now)
    return case
