"""Builders and checks shared by the case state machine tests.

Orders are bought at PURCHASED (2026-01-01 10:00 UTC) and delivered five minutes later, on a
3-month plan of 59.99 USD: the period runs 90 days, to 2026-04-01 10:05.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from cases import services
from cases.models import CaseEvent, Payout, RefundCase, RefundRequest
from cases.states import State
from core.errors import CaseActionError
from orders.models import Extension, Order, Storefront, Subscription
from tests.conftest import at, make_order

PURCHASED = at("2026-01-01 10:00")
WITHIN_WINDOW = at("2026-01-02 09:00")  # 23 h after purchase
PRICE = Decimal("59.99")
# Bought early enough that a 100-hour outage fits before a request at WITHIN_WINDOW (S0-OUTAGE's bound).
BEFORE_OUTAGE = at("2025-12-28 10:00")


def open_case(
    storefront: Storefront, *, reason: str = "other", requested_at: datetime = WITHIN_WINDOW,
    outage_hours: int | str = 0, order: Order | None = None, **order_fields,
) -> RefundCase:
    order = order or make_order(storefront, **order_fields)
    return services.case_create(order=order, reason=reason, requested_at=requested_at, outage_hours=outage_hours,
                                now=requested_at)


def later(moment: datetime, **delta) -> datetime:
    return moment + timedelta(**delta)


def drive(case: RefundCase, state: str, *, agent, manager, now: datetime | None = None) -> RefundCase:
    """Take a fresh case on ``iptv-smarters-pro`` to ``state`` the way staff would."""
    now = now or later(case.requested_at, hours=1)
    if state == State.REQUESTED:
        return case
    if state == State.AWAITING_FIX:
        assert case.reason == "technical_issue"
        return services.case_start_fix(case=case, actor=agent, now=now)
    if state == State.EVIDENCE_REQUESTED:
        return services.case_request_evidence(case=case, actor=agent, message="Send a screenshot.", now=now)
    if state == State.APPROVED:
        return services.case_approve(case=case, actor=agent, now=now)
    if state == State.PAID:
        case = services.case_approve(case=case, actor=agent, now=now)
        return services.case_pay(case=case, actor=manager, reference="re_1", now=later(now, hours=1))
    if state == State.DENIED:
        return services.case_deny(case=case, actor=agent, reason="other", note="Customer asked us to.", now=now)
    if state == State.WITHDRAWN:
        return services.case_withdraw(case=case, actor=agent, now=now)
    if state == State.RESOLVED:
        assert case.reason == "technical_issue"
        case = services.case_start_fix(case=case, actor=agent, now=now)
        return services.case_fix_succeeded(case=case, actor=agent, now=later(now, hours=1))
    raise AssertionError(state)


def row(model, pk: int) -> dict:
    """Every concrete column of one row, as the database holds it now."""
    instance = model._default_manager.get(pk=pk)
    return {field.attname: getattr(instance, field.attname) for field in model._meta.concrete_fields}


def snapshot(case: RefundCase) -> dict:
    """The case row, its order and subscription, its events, payouts, extensions and refund requests."""
    order_id = RefundCase.objects.values_list("order_id", flat=True).get(pk=case.pk)
    subscription = Subscription.objects.filter(order_id=order_id).values_list("pk", flat=True).first()
    events = CaseEvent.objects.filter(case_id=case.pk).values_list("pk", flat=True)
    return {
        "case": row(RefundCase, case.pk),
        "order": row(Order, order_id),
        "subscription": row(Subscription, subscription) if subscription else None,
        "events": [row(CaseEvent, pk) for pk in events],
        "payouts": list(Payout.objects.filter(order_id=order_id).values()),
        "extensions": list(Extension.objects.filter(case_id=case.pk).values()),
        "refund_requests": list(RefundRequest.objects.filter(case_id=case.pk).values()),
    }


def assert_refused(call: Callable[[], object], case: RefundCase, code: str) -> CaseActionError:
    """``call`` raises CaseActionError(``code``) with a message and changes nothing the case owns."""
    before = snapshot(case)
    with pytest.raises(CaseActionError) as caught:
        call()
    error = caught.value
    assert error.code == code, error.message
    assert error.message.strip() and "{" not in error.message
    assert str(error) == error.message
    assert snapshot(case) == before
    return error


def transitions(case: RefundCase) -> list[str]:
    return list(case.events.filter(kind=CaseEvent.Kind.TRANSITION).values_list("transition", flat=True))


def last_event(case: RefundCase) -> CaseEvent:
    return case.events.order_by("-created_at", "-id").first()


def mail_names(mailoutbox) -> list[str]:
    """Subjects of the sent mails, without the case number in brackets."""
    return [message.subject.split("] ", 1)[1] for message in mailoutbox]


def fresh(case: RefundCase) -> RefundCase:
    return RefundCase.objects.get(pk=case.pk)

