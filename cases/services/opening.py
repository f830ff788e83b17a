"""Opening a case and setting what it is about."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.customer_links import issue_link, link_url
from cases.events import mail_customer_after_commit, record_event
from cases.models import CaseEvent, CaseLink, RefundCase
from cases.services.base import lock_case, parse_outage_hours
from cases.states import OPEN_STATES, Channel, Reason, State
from core.errors import CaseActionError, Code
from orders.models import Order
from rules.engine import outage_hours_problem

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _check_outage_hours(*, order: Order, outage_hours: Decimal, requested_at: datetime) -> None:
    """S0-OUTAGE: no more outage than the time the customer had the service before asking."""
    subscription = getattr(order, "subscription", None)
    delivered_at = subscription.delivered_at if subscription is not None else None
    problem = outage_hours_problem(outage_hours=outage_hours, delivered_at=delivered_at, requested_at=requested_at)
    if problem:
        raise CaseActionError(Code.INVALID_INPUT, why=f"Outage hours: {problem}.")


def case_create(
    *,
    order: Order,
    reason: str,
    requested_at: datetime | None = None,
    description: str = "",
    channel: str = "admin",
    outage_hours: Decimal | int = 0,
    actor: User | None = None,
    assignee: User | None = None,
    reason_confirmed: bool = True,
    acknowledge: bool = True,
    now: datetime | None = None,
) -> RefundCase:
    """Open a case on ``order``. Side effects: 'created' event, acknowledgement e-mail.

    ``reason_confirmed=False`` for requests that came without a reason code (e-mail intake): no
    refund or extension until an agent sets the reason (:func:`case_set_reason`).
    ``acknowledge=False``: the caller sends the acknowledgement itself (the portal adds the case's link).
    """
    now = now or timezone.now()
    requested_at = requested_at or now
    if not isinstance(requested_at, datetime) or timezone.is_naive(requested_at):
        raise CaseActionError(Code.INVALID_INPUT, why="Give the request time with its time zone.")
    if requested_at < order.purchased_at:
        raise CaseActionError(Code.INVALID_INPUT, why="The request time is before the purchase time.")
    if requested_at > now + timedelta(minutes=5):
        raise CaseActionError(Code.INVALID_INPUT, why="The request time is in the future.")
    if reason not in Reason.values:
        raise CaseActionError(Code.INVALID_INPUT, why=f"Unknown refund reason {reason!r}.")
    if channel not in Channel.values:
        raise CaseActionError(Code.INVALID_INPUT, why=f"Unknown channel {channel!r}.")
    outage_hours = parse_outage_hours(outage_hours)
    _check_outage_hours(order=order, outage_hours=outage_hours, requested_at=requested_at)
    case = RefundCase(
        order=order,
        reason=reason,
        description=description,
        channel=channel,
        requested_at=requested_at,
        outage_hours=outage_hours,
        assignee=assignee,
        reason_confirmed=reason_confirmed,
    )
    try:
        with transaction.atomic():
            case.decision = case.evaluate(as_of=now).as_dict()
            case.decided_at = now
            case.save()
            record_event(case, actor=actor, kind=CaseEvent.Kind.CREATED, comment=description,
                    visibility=CaseEvent.Visibility.CUSTOMER, data={"channel": channel, "reason": reason}, now=now)
            if acknowledge:
                # Every acknowledgement carries the case's own link, whichever channel opened it.
                secret = issue_link(case=case, why=CaseLink.Why.OPENED, actor=actor, now=now, record=False)
                mail_customer_after_commit(case, "received", portal_url=link_url(secret))
    except IntegrityError:
        open_case = RefundCase.objects.filter(order=order, state__in=OPEN_STATES).first()
        if open_case is None:
            raise
        raise CaseActionError(
            Code.INVALID_INPUT, why=f"Order {order} already has an open case, {open_case.number}."
        ) from None
    return case


def case_set_reason(
    *, case: RefundCase | int, actor: User, reason: str, outage_hours: Decimal | str | None = None, note: str = "",
    now: datetime | None = None, expected_state: str | None = None,
) -> RefundCase:
    """Set (or confirm) the case's reason code, and its outage hours; the decision follows.

    Only while nothing hangs on the old reason: a case awaiting a fix, or decided, keeps its reason.
    """
    now = now or timezone.now()
    if reason not in Reason.values:
        raise CaseActionError(Code.INVALID_INPUT, why=f"Unknown reason {reason!r}.")
    hours = None if outage_hours in (None, "") else parse_outage_hours(outage_hours)
    if not actor.has_perm("cases.work_refundcase"):
        raise CaseActionError(Code.NO_PERMISSION, permission="work refund cases")
    with transaction.atomic():
        locked = lock_case(case)
        if expected_state is not None and locked.state != expected_state:
            raise CaseActionError(Code.ALREADY_DONE, state=locked.state_phrase)
        if locked.state not in (State.REQUESTED, State.EVIDENCE_REQUESTED):
            raise CaseActionError(Code.WRONG_STATE, state=locked.state_phrase)
        before = {"reason": locked.reason, "outage_hours": str(locked.outage_hours)}
        locked.reason = reason
        if hours is not None:
            _check_outage_hours(order=locked.order, outage_hours=hours, requested_at=locked.requested_at)
            locked.outage_hours = hours
        locked.reason_confirmed = True
        locked.forget_decision()
        locked.decision = locked.evaluate(as_of=now).as_dict()
        locked.decided_at = now
        locked.save()
        after = {"reason": locked.reason, "outage_hours": str(locked.outage_hours)}
        record_event(locked, actor=actor, kind=CaseEvent.Kind.REASON, comment=note.strip(), now=now,
                     data={"from": before, "to": after})
    return locked
