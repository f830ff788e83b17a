"""Paying an approved refund: by hand with a typed reference, or through the order's shop."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from cases.models import CaseEvent, Payout, RefundCase
from cases.selectors import pay_route
from cases.services.base import Step, lock_case, run_transition, seen
from cases.services.paying import checked_method, write_payout
from cases.services.refunds import refund_send, settle_held_by_hand
from cases.states import State
from core.errors import CaseActionError, Code
from rules.engine import PAYMENT_METHODS

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def case_pay(
    *, case: RefundCase | int, actor: User, reference: str, method: str | None = None, method_note: str = "",
    now: datetime | None = None, expected_state: str | None = None,
) -> RefundCase:
    """Pay an approved refund: one payout, the order's refunded total, the arrival window.

    S1-SAME-METHOD: the payout method defaults to the order's; another needs a note.
    S0-ARRIVAL / S1-ARRIVAL: the expected arrival dates are recorded and mailed.

    When the order's refunds go through a shop (``cases.refund_channels``), the refund is sent there
    instead (``cases.services.refunds.refund_send``): the case stays approved until the shop confirms
    it, and no reference is typed when the shop returns the money itself. Otherwise, and for a refund
    the shop recorded without returning the money (``held``), the manager moves the money and gives
    its reference; the case is paid at once.
    """
    now = now or timezone.now()
    reference = (reference or "").strip()
    if len(reference) > Payout._meta.get_field("reference").max_length:
        raise CaseActionError(Code.INVALID_INPUT, why="The payout reference is too long (120 characters at most).")
    if method is not None and method not in PAYMENT_METHODS:
        raise CaseActionError(Code.INVALID_INPUT, why=f"Unknown payout method {method!r}.")
    expected_state = seen(case, State.APPROVED, expected_state)
    with transaction.atomic():
        locked = lock_case(case)
        route = pay_route(case=locked)
        if route.channel is not None:
            return refund_send(case=locked, actor=actor, route=route, reference=reference, method=method,
                               method_note=method_note, now=now, expected_state=expected_state)
        if not reference:
            raise CaseActionError(Code.REFERENCE_REQUIRED)
        held = route.held

        def pay_out(paying: RefundCase) -> None:
            shop_refund_id = held.shop_refund_id if held is not None else ""
            order, payout_method = checked_method(paying, method=method, method_note=method_note, now=now)
            write_payout(paying, order=order, step=step, paid_by=actor, reference=reference, method=payout_method,
                         method_note=method_note.strip(), shop_refund_id=shop_refund_id, now=now)
            if held is not None:
                settle_held_by_hand(request=held, reference=reference, actor=actor, now=now)
                step.data["shop_refund_id"] = held.shop_refund_id

        step = Step("pay", {}, visibility=CaseEvent.Visibility.CUSTOMER, email="paid")
        return run_transition(case=locked, actor=actor, step=step, now=now, expected_state=expected_state,
                              after=pay_out)
