"""The one way a stored case becomes the engine's ``Facts``.

``RefundCase.facts`` (one case, from model instances) and the policy backtest (a million cases, from
plain rows) both call :func:`case_facts`, so a replay sees a case exactly as the live code does.
Pure: no ORM, no clock.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from rules.engine import Facts, FixAttempt


def returned_so_far(*, amount: Decimal, refunded: Decimal, charged_back: Decimal) -> Decimal:
    """Refunds paid plus chargebacks, never more than the amount: the policy's "already refunded"."""
    return min(refunded + charged_back, amount)


def case_facts(
    *,
    price: Decimal,
    currency: str,
    payment_method: str,
    plan_months: int,
    devices: int,
    purchased_at: datetime,
    delivered_at: datetime | None,
    refunded_so_far: Decimal,
    requested_at: datetime,
    reason: str,
    fix_started_at: datetime | None,
    fix_outcome: str,
    outage_hours: Decimal,
    as_of: datetime,
) -> Facts:
    fix = None
    if fix_started_at is not None:
        # A started attempt without a recorded outcome is still pending.
        fix = FixAttempt(started_at=fix_started_at, outcome=fix_outcome or "pending")
    return Facts(
        price=price,
        currency=currency,
        payment_method=payment_method,
        plan_months=plan_months,
        devices=devices,
        purchased_at=purchased_at,
        delivered_at=delivered_at,
        refunded_so_far=refunded_so_far,
        requested_at=requested_at,
        reason=reason,
        fix_attempt=fix,
        outage_hours=outage_hours,
        as_of=as_of,
    )
