"""A known set of cases for the dashboard: rows written directly, in every state, in known weeks."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from cases.models import Payout, RefundCase
from cases.states import State
from reports.dashboard import week_starts
from tests.conftest import make_order

RESOLUTION = {State.PAID: "refunded", State.DENIED: "denied", State.RESOLVED: "fixed", State.WITHDRAWN: "withdrawn"}


def stored_case(storefront, *, state: str, requested_at: datetime, reason: str = "other", decided_at=None,
                approved_at=None, amount: str | None = None, currency: str = "USD", statutory: bool = False,
                next_deadline=None, cancelled: bool = False, approver: User | None = None) -> RefundCase:
    """A case as the services leave it in ``state``, without its history: what the dashboard reads."""
    order = make_order(storefront, purchased_at=requested_at - timedelta(hours=3), currency=currency,
                       amount=amount or "59.99")
    approved = amount is not None
    case = RefundCase.objects.create(
        order=order, reason=reason, requested_at=requested_at, state=state,
        decided_at=decided_at, resolution=RESOLUTION.get(state, ""),
        approved_amount=Decimal(amount) if approved else None,
        approved_at=approved_at, approved_by=approver if approved else None,
        statutory_override=statutory, statutory_basis="Consumer law" if statutory else "",
        approval_cancelled_at=decided_at if cancelled else None,
        next_deadline=next_deadline,
    )
    if state == State.PAID:
        Payout.objects.create(
            case=case, order=order, amount=Decimal(amount), currency=currency, method="card", reference="R",
            paid_by=approver, paid_at=decided_at, arrival_min_days=1, arrival_max_days=2, arrival_worst_days=3,
            expected_by=decided_at.date(), expected_worst_by=decided_at.date(),
        )
    return case


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def known_cases(s0, s1, manager, now):
    """Three weeks of activity on both storefronts, plus open cases (two of them overdue)."""
    weeks = week_starts(now)
    last, before, older = weeks[-1], weeks[-2], weeks[-3]
    out_of_period = weeks[0] - timedelta(days=3)
    made = {}
    day = timedelta(days=1)
    made["paid_usd"] = stored_case(s0, state=State.PAID, requested_at=before + day, decided_at=before + 2 * day,
                                   approved_at=before + day + timedelta(hours=5), amount="40.00", approver=manager)
    made["paid_eur"] = stored_case(s1, state=State.PAID, requested_at=older + day, decided_at=before + day,
                                   approved_at=older + 2 * day, amount="25.50", currency="EUR", approver=manager,
                                   reason="technical_issue")
    made["statutory"] = stored_case(s1, state=State.APPROVED, requested_at=last, approved_at=last + timedelta(hours=1),
                                    decided_at=last + timedelta(hours=1), amount="10.00", statutory=True,
                                    approver=manager, reason="changed_mind")
    made["cancelled"] = stored_case(s0, state=State.WITHDRAWN, requested_at=older, decided_at=older + 3 * day,
                                    approved_at=older + day, amount="99.00", cancelled=True, approver=manager)
    made["denied"] = stored_case(s0, state=State.DENIED, requested_at=older + day, decided_at=older + day + timedelta(hours=6),
                                 reason="changed_mind")
    made["resolved"] = stored_case(s1, state=State.RESOLVED, requested_at=before, decided_at=before + timedelta(hours=10),
                                   reason="technical_issue")
    made["old_denied"] = stored_case(s0, state=State.DENIED, requested_at=out_of_period - day,
                                     decided_at=out_of_period, reason="changed_mind")
    made["open_overdue"] = stored_case(s0, state=State.AWAITING_FIX, requested_at=now - 3 * day,
                                       next_deadline=now - day, reason="technical_issue")
    made["open_waiting"] = stored_case(s0, state=State.EVIDENCE_REQUESTED, requested_at=now - 2 * day,
                                       next_deadline=now + day)
    made["open_s1_overdue"] = stored_case(s1, state=State.REQUESTED, requested_at=now - timedelta(hours=2),
                                          next_deadline=now - timedelta(minutes=5))
    return made
