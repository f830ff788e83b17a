"""Policies as the migrations ship them, and a builder for the facts of one hypothetical case."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from orders.models import Storefront
from policies.selectors import policy_version_for
from rules.engine import Facts, FixAttempt, Policy
from tests.conftest import at
from tests.policies.backtest_cases import closed_case

PURCHASED = at("2026-01-01 10:00")


def policy_of(storefront: Storefront, *, purchased_at: datetime = PURCHASED) -> Policy:
    return policy_version_for(storefront_id=storefront.pk, purchased_at=purchased_at).to_policy()


@pytest.fixture
def p0(s0) -> Policy:
    return policy_of(s0)


@pytest.fixture
def p1(s1) -> Policy:
    return policy_of(s1)


def make_facts(
    *,
    price: str = "90.00",
    refunded: str = "0.00",
    currency: str = "USD",
    payment_method: str = "card",
    plan_months: int = 1,
    purchased_at: datetime = PURCHASED,
    delivered_at: datetime | None = at("2026-01-01 10:05"),
    requested_at: datetime = at("2026-01-02 10:00"),
    reason: str = "other",
    fix: tuple[datetime, str] | None = None,
    outage_hours: str = "0",
    as_of: datetime | None = None,
) -> Facts:
    return Facts(
        price=Decimal(price),
        currency=currency,
        payment_method=payment_method,
        plan_months=plan_months,
        purchased_at=purchased_at,
        delivered_at=delivered_at,
        refunded_so_far=Decimal(refunded),
        requested_at=requested_at,
        reason=reason,
        fix_attempt=None if fix is None else FixAttempt(started_at=fix[0], outcome=fix[1]),
        outage_hours=Decimal(outage_hours),
        as_of=as_of or requested_at,
    )


@pytest.fixture
def history(s0, s1, agent, manager):
    """Closed cases of January on both storefronts, an open one, and one closed outside the period."""
    def made(storefront=s0, **kwargs):
        return closed_case(storefront, agent=agent, manager=manager, **kwargs)

    return {
        "paid_early": made(hours_after_purchase=2, close="paid"),
        "paid_late": made(hours_after_purchase=30, close="paid"),
        "withdrawn_late": made(hours_after_purchase=30, close="withdrawn"),
        "prorated": made(hours_after_purchase=60, close="withdrawn"),
        "excluded": made(hours_after_purchase=30, reason="changed_mind", close="denied"),
        "open_late": made(hours_after_purchase=30, close="open"),
        "before_period": made(hours_after_purchase=30, close="withdrawn", purchased_at=at("2025-12-20 10:00")),
        "other_storefront": made(s1, hours_after_purchase=30, close="withdrawn"),
    }
