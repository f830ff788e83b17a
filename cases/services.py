"""Every write to a refund case goes through here.

Each service locks the case row, checks the actor and the policy (the same named conditions the
admin uses to explain a blocked button), runs the FSM transition, saves, appends an event with the
decision snapshot, and mails the customer only once the transaction has committed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from cases import conditions
from cases.errors import CaseActionError, Code
from cases.events import mail_customer_after_commit, record_event
from cases.models import CaseEvent, Payout, RefundCase
from cases.states import OPEN_STATES, Channel, DenyReason, Reason, State
from orders.models import Extension, Order, Subscription
from policies.engine import CENT, PAYMENT_METHODS, Outcome, add_business_days
from policies.facts_json import MAX_OUTAGE_HOURS
from policies.selectors import policy_for_order

PERMISSION_NAMES = {
    conditions.can_work: "work refund cases",
    conditions.can_approve: "approve refunds",
    conditions.can_override: "statutory override",
    conditions.can_pay: "mark refunds paid",
}


# --- checks shared with the admin ---------------------------------------------------------


def transition_error(*, case: RefundCase, user, name: str) -> CaseActionError | None:
    """Why ``user`` may not take transition ``name`` now, or ``None`` if they may.

    ``user=None`` is the system (sweeps), which needs no permission.
    """
    meta = getattr(case, name)._django_fsm
    if not meta.has_transition(case.state):
        return CaseActionError(Code.WRONG_STATE, state=case.get_state_display().lower())
    transition = meta.get_transition(case.state)
    # The policy speaks first: "not on this storefront's policy" says more than "managers only".
    for condition in transition.conditions:
        if not condition(case):
            return CaseActionError(Code.POLICY_BLOCKS, why=condition.why(case))
    if user is not None and not transition.has_perm(case, user):
        return _permission_error(case=case, user=user, permission=transition.permission)
    return None


def _permission_error(*, case: RefundCase, user, permission) -> CaseActionError:
    if permission is conditions.can_pay and user.has_perm("cases.pay_refundcase"):
        return CaseActionError(Code.FOUR_EYES)
    if permission is conditions.can_approve and user.has_perm("cases.work_refundcase"):
        return CaseActionError(Code.MANAGER_ONLY, why="S1-DISCRETION: the decision is at a manager's discretion")
    if permission is conditions.can_override:
        return CaseActionError(Code.MANAGER_ONLY, why="S1-STATUTORY")
    return CaseActionError(Code.NO_PERMISSION, permission=PERMISSION_NAMES.get(permission, "this action"))


def lock_case(case: RefundCase | int, now: datetime) -> RefundCase:
    case_id = case if isinstance(case, int) else case.pk
    # Lock the case row for the whole transaction: two people clicking at once (or a sweep and
    # an agent) would otherwise both pass the checks against the same old state.
    locked = RefundCase.objects.select_for_update(of=("self",)).select_related(
        "order__storefront", "order__plan", "order__customer"
    ).get(pk=case_id)
    locked.as_of = now
    return locked


def _seen(case: RefundCase | int, state: str, given: str | None = None) -> str | None:
    """The state the caller expects: ``given`` if it said, else ``state`` as its copy showed it.

    A caller who saw the case in ``state`` and finds it changed under the lock lost a race
    (ALREADY_DONE); a caller who acted on a case it knew to be elsewhere gets WRONG_STATE.
    """
    if given is not None:
        return given
    if isinstance(case, RefundCase) and case.state != state:
        return None
    return state


def _refuse_unless_allowed(case: RefundCase, actor, name: str, *, expected_state: str | None) -> None:
    if expected_state is not None and case.state != expected_state:
        raise CaseActionError(Code.ALREADY_DONE, state=case.get_state_display().lower())
    error = transition_error(case=case, user=actor, name=name)
    if error is not None:
        raise error


@dataclass
class Step:
    """One transition as the services run it."""

    name: str
    kwargs: dict
    comment: str = ""
    visibility: str = CaseEvent.Visibility.INTERNAL
    email: str | None = None
    email_extra: dict | None = None
    data: dict | None = None


def run_transition(
    case: RefundCase | int,
    actor,
    step: Step,
    *,
    now: datetime | None,
    expected_state: str | None,
    before: Callable[[RefundCase], None] | None = None,
    after: Callable[[RefundCase], None] | None = None,
) -> RefundCase:
    """Lock, check, transition, snapshot the decision, save, log and mail: one staff or system action.

    ``before`` validates input against the locked case (and may fill ``step``); ``after`` does the
    action's other writes once the state has moved. Either may raise CaseActionError, which rolls
    everything back.
    """
    now = now or timezone.now()
    with transaction.atomic():
        case = lock_case(case, now)
        _refuse_unless_allowed(case, actor, step.name, expected_state=expected_state)
        if before is not None:
            before(case)
        from_state = case.state
        getattr(case, step.name)(**step.kwargs)
        # The decision the action was taken under: after the transition (a failed fix changes the
        # facts) but before its side effects (a payout would otherwise read as "nothing left").
        case.decision = case.evaluate(as_of=now).as_dict()
        case.decided_at = now
        if after is not None:
            after(case)
        case.save()
        record_event(
            case,
            actor=actor,
            kind=CaseEvent.Kind.TRANSITION,
            transition=step.name,
            from_state=from_state,
            comment=step.comment,
            visibility=step.visibility,
            data=step.data,
            now=now,
        )
        if step.email:
            mail_customer_after_commit(case, step.email, **(step.email_extra or {}))
    return case


# --- input helpers ------------------------------------------------------------------------


MAX_MONEY = Decimal("9999999999.99")  # orders.models.MONEY: 12 digits, 2 decimals


def parse_money(value) -> Decimal:
    """A positive amount of at most two decimals that the money columns can hold."""
    try:
        amount = Decimal(str(value).strip())
        # quantize() itself raises InvalidOperation for huge exponents such as "1e30".
        valid = amount.is_finite() and 0 < amount <= MAX_MONEY and amount == amount.quantize(CENT)
    except (InvalidOperation, ValueError):
        valid = False
    if not valid:
        raise CaseActionError(Code.AMOUNT_INVALID)
    return amount.quantize(CENT)


def _parse_outage_hours(value) -> Decimal:
    try:
        hours = Decimal(str(value).strip())
        valid = hours.is_finite() and 0 <= hours <= MAX_OUTAGE_HOURS and hours == hours.quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError):
        valid = False
    if not valid:
        raise CaseActionError(
            Code.INVALID_INPUT, why="Outage hours must be a number of hours, 0 or more, with at most one decimal."
        )
    return hours


def _required_text(value: str, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise CaseActionError(Code.NOTE_REQUIRED, what=what)
    return text


# --- cases --------------------------------------------------------------------------------


def case_create(
    *,
    order: Order,
    reason: str,
    requested_at: datetime | None = None,
    description: str = "",
    channel: str = "admin",
    outage_hours: Decimal | int = 0,
    actor=None,
    assignee=None,
    reason_confirmed: bool = True,
    now: datetime | None = None,
) -> RefundCase:
    """Open a case on ``order``. Side effects: 'created' event, acknowledgement e-mail.

    ``reason_confirmed=False`` for requests that came without a reason code (e-mail intake): no
    refund or extension until an agent sets the reason (:func:`case_set_reason`).
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
    outage_hours = _parse_outage_hours(outage_hours)
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
            mail_customer_after_commit(case, "received")
    except IntegrityError:
        open_case = RefundCase.objects.filter(order=order, state__in=OPEN_STATES).first()
        if open_case is None:
            raise
        raise CaseActionError(
            Code.INVALID_INPUT, why=f"Order {order} already has an open case, {open_case.number}."
        ) from None
    return case


def case_start_fix(
    *, case, actor, note: str = "", now: datetime | None = None, expected_state: str | None = None
) -> RefundCase:
    """S0-FIX-FIRST: record a fix attempt; the deadline is the policy's fix window (S0-FIX-48H)."""
    now = now or timezone.now()

    def window(locked: RefundCase) -> None:
        hours = policy_for_order(locked.order).fix_window_hours
        step.kwargs["deadline"] = now + timedelta(hours=hours)

    step = Step("start_fix", {"at": now}, comment=note, visibility=CaseEvent.Visibility.CUSTOMER,
                 email="fix_started")
    return run_transition(
        case, actor, step, now=now, expected_state=_seen(case, State.REQUESTED, expected_state), before=window,
    )


def case_fix_succeeded(
    *, case, actor, note: str = "", now: datetime | None = None, expected_state: str | None = None
) -> RefundCase:
    step = Step("fix_succeeded", {}, comment=note, visibility=CaseEvent.Visibility.CUSTOMER, email="fix_succeeded")
    return run_transition(case, actor, step, now=now, expected_state=_seen(case, State.AWAITING_FIX, expected_state))


def case_fix_failed(
    *, case, actor, note: str = "", now: datetime | None = None, expected_state: str | None = None
) -> RefundCase:
    step = Step("fix_failed", {}, comment=note)
    return run_transition(case, actor, step, now=now, expected_state=_seen(case, State.AWAITING_FIX, expected_state))


def case_request_evidence(
    *, case, actor, message: str, now: datetime | None = None, expected_state: str | None = None
) -> RefundCase:
    """S0-EVIDENCE / S1-VERIFY: ask the customer; due after the storefront's evidence days."""
    now = now or timezone.now()
    message = _required_text(message, "A message to the customer")

    def due(locked: RefundCase) -> None:
        step.kwargs["due"] = now + timedelta(days=locked.order.storefront.evidence_due_days)
        clause = policy_for_order(locked.order).evidence_clause
        step.data = {"clauses": [clause] if clause else []}

    step = Step("request_evidence", {"at": now}, comment=message, visibility=CaseEvent.Visibility.CUSTOMER,
                 email="evidence_requested", email_extra={"message": message})
    return run_transition(
        case, actor, step, now=now, expected_state=_seen(case, State.REQUESTED, expected_state), before=due,
    )


def case_evidence_received(
    *, case, actor, note: str = "", now: datetime | None = None, expected_state: str | None = None
) -> RefundCase:
    step = Step("evidence_received", {}, comment=note)
    return run_transition(
        case, actor, step, now=now, expected_state=_seen(case, State.EVIDENCE_REQUESTED, expected_state),
    )


def case_approve(
    *, case, actor, amount=None, note: str = "", now: datetime | None = None, expected_state: str | None = None
) -> RefundCase:
    """Approve what the policy allows now; never above the decision's amount (H-CAP included).

    Manager-discretion decisions (S1-DISCRETION) need a manager and a written justification.
    """
    now = now or timezone.now()

    def validate(locked: RefundCase) -> None:
        decision = locked.evaluate(as_of=now)
        granted = parse_money(amount) if amount not in (None, "") else decision.refund_amount
        if granted > decision.refund_amount:
            raise CaseActionError(
                Code.AMOUNT_ABOVE_DECISION,
                amount=f"{granted:.2f}",
                limit=f"{decision.refund_amount:.2f} {decision.currency}",
                clauses=", ".join(decision.clauses),
            )
        if decision.outcome == Outcome.MANAGER_DISCRETION:
            step.kwargs["note"] = _required_text(note, "A written justification (S1-DISCRETION)")
        step.kwargs["amount"] = granted
        step.data = {"amount": f"{granted:.2f}", "currency": decision.currency, "outcome": decision.outcome}
        # The policy's explanation describes its own amount; a smaller or discretionary one gets none.
        as_decided = decision.outcome in (Outcome.FULL_REFUND, Outcome.PARTIAL_REFUND) and (
            granted == decision.refund_amount
        )
        step.email_extra = {"customer_message": decision.explanation if as_decided else ""}

    # Internal: the note is the staff's justification; the customer learns of the approval by e-mail.
    step = Step("approve", {"by": actor, "at": now, "note": note.strip()}, comment=note.strip(), email="approved")
    return run_transition(case, actor, step, now=now, expected_state=expected_state, before=validate)


def case_approve_statutory(
    *, case, actor, amount, basis: str, now: datetime | None = None, expected_state: str | None = None
) -> RefundCase:
    """S1-STATUTORY: a manager approves despite the policy, citing the law. H-CAP still holds."""
    now = now or timezone.now()
    basis = _required_text(basis, "The legal basis (S1-STATUTORY)")

    def validate(locked: RefundCase) -> None:
        granted = parse_money(amount)
        remainder = locked.order.refundable_remainder
        if granted > remainder:
            raise CaseActionError(
                Code.AMOUNT_ABOVE_REMAINDER, amount=f"{granted:.2f}", limit=f"{remainder:.2f} {locked.order.currency}"
            )
        step.kwargs["amount"] = granted
        step.data = {"amount": f"{granted:.2f}", "currency": locked.order.currency, "statutory_override": True,
                     "clauses": ["S1-STATUTORY"]}

    step = Step("approve_statutory", {"by": actor, "at": now, "basis": basis}, comment=basis,
                 email="approved")
    return run_transition(case, actor, step, now=now, expected_state=expected_state, before=validate)


MAX_BONUS_DAYS = 366  # a bonus period, not a free subscription; also keeps the day counters in range


def case_extend(
    *, case, actor, bonus_days: int = 0, note: str = "", now: datetime | None = None,
    expected_state: str | None = None,
) -> RefundCase:
    """S0-OUTAGE: add the lost days plus ``bonus_days`` to the subscription instead of a refund."""
    now = now or timezone.now()
    if isinstance(bonus_days, bool) or not isinstance(bonus_days, int) or not 0 <= bonus_days <= MAX_BONUS_DAYS:
        raise CaseActionError(
            Code.INVALID_INPUT, why=f"Bonus days must be a whole number from 0 to {MAX_BONUS_DAYS}."
        )

    def add_days(locked: RefundCase) -> None:
        # Locked after the case, as everywhere: a chargeback may be suspending this subscription.
        subscription = Subscription.objects.select_for_update().filter(order_id=locked.order_id).first()
        if subscription is None or subscription.delivered_at is None:
            raise CaseActionError(Code.INVALID_INPUT, why="The order has no delivered subscription to extend.")
        lost = locked.evaluate(as_of=now).extension_days or 0
        Extension.objects.create(
            subscription=subscription, case=locked, lost_days=lost, bonus_days=bonus_days, note=note,
            created_by=actor,
        )
        subscription.extension_days += lost + bonus_days
        subscription.save(update_fields=["extension_days"])
        step.data = {"lost_days": lost, "bonus_days": bonus_days}

    step = Step("extend", {}, comment=note, visibility=CaseEvent.Visibility.CUSTOMER, email="extended")
    return run_transition(case, actor, step, now=now, expected_state=expected_state, before=add_days)


def case_deny(
    *, case, actor, reason: str, note: str = "", now: datetime | None = None, expected_state: str | None = None
) -> RefundCase:
    """Deny, citing the decision's clauses. Denying what the policy would refund needs a note."""
    now = now or timezone.now()
    if reason not in DenyReason.values:
        raise CaseActionError(Code.INVALID_INPUT, why=f"Unknown denial reason {reason!r}.")

    def validate(locked: RefundCase) -> None:
        decision = locked.evaluate(as_of=now)
        if decision.allows_refund:
            step.comment = _required_text(note, "A note explaining why a refund the policy allows is denied")
        step.data = {"deny_reason": reason, "clauses": list(decision.clauses)}
        # The policy's own words only when the policy denies; otherwise the agent's reason.
        step.email_extra = {"customer_message": decision.explanation if not decision.allows_refund else step.comment}

    step = Step("deny", {"reason": reason}, comment=note.strip(), visibility=CaseEvent.Visibility.CUSTOMER,
                 email="denied")
    return run_transition(case, actor, step, now=now, expected_state=expected_state, before=validate)


def case_withdraw(
    *, case, actor, note: str = "", now: datetime | None = None, expected_state: str | None = None
) -> RefundCase:
    """The customer no longer wants the refund; possible from any open state."""
    step = Step("withdraw", {}, comment=note, visibility=CaseEvent.Visibility.CUSTOMER, email="withdrawn")
    return run_transition(case, actor, step, now=now, expected_state=expected_state)


def case_pay(
    *, case, actor, reference: str, method: str | None = None, method_note: str = "", now: datetime | None = None,
    expected_state: str | None = None,
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
        # The order row is locked too: another case on the same order may be paying right now.
        order = Order.objects.select_for_update().get(pk=locked.order_id)
        locked.order.refunded_amount = order.refunded_amount
        locked.order.charged_back_amount = order.charged_back_amount
        if not conditions.remainder_covers_approval(locked):
            raise CaseActionError(Code.POLICY_BLOCKS, why=conditions.remainder_covers_approval.why(locked))
        payout_method = method or order.payment_method
        note = method_note.strip()
        if payout_method != order.payment_method and not note:
            raise CaseActionError(
                Code.NOTE_REQUIRED, what="A note on why the original payment method is not used (S1-SAME-METHOD)"
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

    step = Step("pay", {}, visibility=CaseEvent.Visibility.CUSTOMER, email="paid")
    return run_transition(
        case, actor, step, now=now, expected_state=_seen(case, State.APPROVED, expected_state), after=pay_out,
    )


def case_set_reason(
    *, case, actor, reason: str, outage_hours=None, note: str = "", now: datetime | None = None,
    expected_state: str | None = None,
) -> RefundCase:
    """Set (or confirm) the case's reason code, and its outage hours; the decision follows.

    Only while nothing hangs on the old reason: a case awaiting a fix, or decided, keeps its reason.
    """
    now = now or timezone.now()
    if reason not in Reason.values:
        raise CaseActionError(Code.INVALID_INPUT, why=f"Unknown reason {reason!r}.")
    hours = None if outage_hours in (None, "") else _parse_outage_hours(outage_hours)
    if not actor.has_perm("cases.work_refundcase"):
        raise CaseActionError(Code.NO_PERMISSION, permission="work refund cases")
    with transaction.atomic():
        locked = lock_case(case, now)
        if expected_state is not None and locked.state != expected_state:
            raise CaseActionError(Code.ALREADY_DONE, state=locked.get_state_display().lower())
        if locked.state not in (State.REQUESTED, State.EVIDENCE_REQUESTED):
            raise CaseActionError(Code.WRONG_STATE, state=locked.get_state_display().lower())
        before = {"reason": locked.reason, "outage_hours": str(locked.outage_hours)}
        locked.reason = reason
        if hours is not None:
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


def case_comment(*, case, actor, comment: str, customer_visible: bool = False, now=None) -> CaseEvent:
    now = now or timezone.now()
    if actor is not None and not actor.has_perm("cases.work_refundcase"):
        raise CaseActionError(Code.NO_PERMISSION, permission="work refund cases")
    comment = _required_text(comment, "A comment")
    visibility = CaseEvent.Visibility.CUSTOMER if customer_visible else CaseEvent.Visibility.INTERNAL
    with transaction.atomic():
        locked = lock_case(case, now)
        event = record_event(locked, actor=actor, kind=CaseEvent.Kind.COMMENT, comment=comment, visibility=visibility,
                        now=now)
        if customer_visible:
            mail_customer_after_commit(locked, "comment", comment=comment)
    return event


def case_assign(*, case, actor, assignee, now=None) -> RefundCase:
    """Hand the case to someone who can work it (or to nobody)."""
    now = now or timezone.now()
    if not actor.has_perm("cases.work_refundcase"):
        raise CaseActionError(Code.NO_PERMISSION, permission="work refund cases")
    if assignee is not None and not (assignee.is_active and assignee.has_perm("cases.work_refundcase")):
        raise CaseActionError(
            Code.INVALID_INPUT, why=f"{assignee.get_username()} cannot work refund cases, so cannot be assigned one."
        )
    with transaction.atomic():
        locked = lock_case(case, now)
        locked.assignee = assignee
        locked.save(update_fields=["assignee", "updated_at"])
        record_event(locked, actor=actor, kind=CaseEvent.Kind.ASSIGNED,
                comment=f"Assigned to {assignee.get_username()}" if assignee else "Unassigned", now=now)
    return locked
