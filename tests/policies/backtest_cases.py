"""Closed cases of January 2026 for the backtest tests, made through the services."""

from __future__ import annotations

from datetime import timedelta

from cases import services
from policies.models import PolicyVersion
from policies.selectors import policy_version_for
from tests.conftest import at, make_order

PURCHASED = at("2026-01-05 10:00")
START, END = at("2026-01-01 00:00"), at("2026-02-01 00:00")


def closed_case(storefront, *, hours_after_purchase: float, reason: str = "other", close: str, agent, manager,
                purchased_at=PURCHASED, amount: str = "59.99"):
    """A case requested ``hours_after_purchase`` after a 3-month purchase, closed an hour later by ``close``."""
    order = make_order(storefront, purchased_at=purchased_at, amount=amount)
    requested = purchased_at + timedelta(hours=hours_after_purchase)
    case = services.case_create(order=order, reason=reason, requested_at=requested, actor=agent, now=requested)
    later = requested + timedelta(hours=1)
    if close == "paid":
        services.case_approve(case=case, actor=agent, now=later)
        services.case_pay(case=case, actor=manager, reference="PSP-1", now=later + timedelta(minutes=5))
    elif close == "denied":
        services.case_deny(case=case, actor=agent, reason="policy_exclusion", now=later)
    elif close == "withdrawn":
        services.case_withdraw(case=case, actor=agent, now=later)
    elif close != "open":
        raise ValueError(close)
    case.refresh_from_db()
    return case


def version_in_force(storefront) -> PolicyVersion:
    return policy_version_for(storefront_id=storefront.pk, purchased_at=PURCHASED)


