"""Chargebacks and the sanction S1-CHARGEBACK attaches to them.

A chargeback is the processor's word on an order, but what it does is a case's business: it flags
the order's open case and writes on its history. Rows are locked in one order everywhere: customer,
case, order, chargeback, subscription. The case services lock a case before its order, so taking
the order first here could deadlock with a payout running at the same moment.

Staff type chargebacks in (``chargeback_record``); the processor's webhook records its disputes
(``dispute_record``, ``dispute_close``), which are the same chargebacks with the dispute's ID,
reason, evidence deadline and outcome (docs/disputes.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format

from cases.events import record_event
from cases.models import CaseEvent, RefundCase
from cases.states import OPEN_STATES
from core.errors import CaseActionError, Code
from core.typing import Actor
from orders.disputes import CLOSED_STATUSES, DisputeStatus, our_status
from orders.models import Chargeback, Customer, Order, Subscription
from policies.selectors import policy_for_order
from rules.money import MoneyError, parse_money

CLOCK_SKEW = timedelta(minutes=5)
# Who a dispute's events are from, in the case history: no staff member acted.
PROCESSOR = "payment processor"


@dataclass(frozen=True)
class _Dispute:
    dispute_id: str
    reason: str
    due_by: datetime | None


def chargeback_record(
    *,
    order: Order,
    actor: Actor,
    amount: Decimal | str,
    opened_at: datetime,
    processor_reference: str = "",
    now: datetime | None = None,
) -> Chargeback:
    """Record a chargeback the customer opened with their bank; sanction it where the policy says so.

    S1-CHARGEBACK: on a storefront whose policy has the clause, a chargeback opened without an
    earlier contact about the order (a case on it requested at or before ``opened_at``, whatever
    became of that case) suspends the order's active subscription and restricts the customer from
    ordering. With prior contact, or where the policy lacks the clause (S0), it is recorded only.
    A customer already restricted for another reason keeps that restriction untouched, and lifting
    this sanction will not remove it.

    The order is marked ``chargeback`` in every case: the money went back through the bank. An
    open case on the order gets an internal event and a flag, so nobody pays a second refund.
    """
    now = now or timezone.now()
    if actor is None or not actor.has_perm("orders.add_chargeback"):
        raise CaseActionError(Code.NO_PERMISSION, permission="record chargebacks")
    return _record(order=order, actor=actor, amount=amount, opened_at=opened_at,
                   processor_reference=processor_reference, dispute=None, now=now)


def dispute_record(
    *,
    order: Order,
    dispute_id: str,
    amount: Decimal | str,
    currency: str,
    reason: str,
    due_by: datetime | None,
    opened_at: datetime,
    now: datetime | None = None,
) -> Chargeback:
    """Record the processor's dispute on ``order`` as a chargeback, with S1-CHARGEBACK's consequences
    exactly as ``chargeback_record`` applies them; the processor's webhook calls this.

    Idempotent on ``dispute_id``: a replayed or concurrent delivery of the same dispute returns the
    chargeback already recorded and changes nothing. A chargeback staff typed in earlier on this
    order with the dispute's ID as its processor reference is that dispute: it gets the dispute's
    details and is returned, with no second sanction.

    ``amount`` is in the currency's units (``Decimal("59.99")`` or ``"59.99"``): Stripe sends the
    smallest unit, which the caller converts. ``reason`` is the processor's code (Stripe's
    ``dispute.reason``), kept as sent; ``due_by`` is when the evidence must reach the processor
    (``evidence_details.due_by``), None if it gave none. Refused with a CaseActionError, and nothing
    written, when the currency is not the order's or the amount is above what is left on the order
    (H-CAP), as for a chargeback typed in.
    """
    now = now or timezone.now()
    dispute_id = (dispute_id or "").strip() if isinstance(dispute_id, str) else ""
    if not dispute_id:
        raise _invalid("The dispute has no ID.")
    if len(dispute_id) > Chargeback._meta.get_field("dispute_id").max_length:
        raise _invalid("The dispute ID is too long (120 characters at most).")
    recorded = Chargeback.objects.filter(dispute_id=dispute_id).first()
    if recorded is not None:
        return recorded
    if isinstance(amount, int | float):
        # 5999 from a webhook is most likely cents: refused rather than read as 5,999.00.
        raise _invalid(f"Give the disputed amount in the currency's units, as a Decimal or text such as "
                       f"\"59.99\", not the number {amount!r}.")
    if not isinstance(currency, str) or currency.strip().upper() != order.currency.upper():
        raise _invalid(f"The dispute is in {currency!s}, but order #{order.number} was paid in {order.currency}.")
    reason = reason.strip().lower() if isinstance(reason, str) else ""
    if len(reason) > Chargeback._meta.get_field("reason").max_length:
        raise _invalid("The dispute's reason code is too long (40 characters at most).")
    if due_by is not None and (not isinstance(due_by, datetime) or timezone.is_naive(due_by)):
        raise _invalid("Give the evidence deadline with its time zone, or none.")
    dispute = _Dispute(dispute_id=dispute_id, reason=reason, due_by=due_by)
    try:
        return _record(order=order, actor=None, amount=amount, opened_at=opened_at,
                       processor_reference=dispute_id, dispute=dispute, now=now)
    except IntegrityError:
        # The same dispute recorded at this moment on another order (no row lock is shared then):
        # the unique dispute ID refused the second one.
        recorded = Chargeback.objects.filter(dispute_id=dispute_id).first()
        if recorded is None:
            raise
        return recorded


def dispute_close(*, dispute_id: str, won: bool | str, now: datetime | None = None) -> Chargeback:
    """The processor closed a dispute: won (True), lost (False), or a status, ours or Stripe's.

    Stripe's ``won`` and ``lost`` are ours; ``warning_closed``, ``prevented`` and ``charge_refunded``
    close it without a decision (closed other, orders/disputes.py). A replay of the same outcome
    changes nothing; a different outcome for a dispute already closed is refused. The order's open
    case, if any, gets an internal event. Nothing else changes: a won dispute does not lift a
    sanction (a manager does) nor give the money back to the refundable remainder.

    A dispute not recorded here (its ``dispute.closed`` arrived before its ``dispute.created``) is
    refused with ``Code.NOT_FOUND``, so the caller can try again later.
    """
    now = now or timezone.now()
    status = _closing_status(won)
    dispute_id = (dispute_id or "").strip() if isinstance(dispute_id, str) else ""
    found = Chargeback.objects.filter(dispute_id=dispute_id).values_list("pk", "order_id").first() if dispute_id else None
    if found is None:
        raise CaseActionError(Code.NOT_FOUND, what=f"The dispute {dispute_id or '(no ID)'}")
    pk, order_id = found
    with transaction.atomic():
        open_case = _lock_open_case(order_id)
        locked = Chargeback.objects.select_for_update(of=("self",)).select_related("order").get(pk=pk)
        if locked.status == status:
            return locked
        if locked.status in CLOSED_STATUSES:
            raise _invalid(
                f"The dispute {dispute_id} was already closed as {locked.get_status_display().lower()} "
                f"on {date_format(timezone.localtime(locked.closed_at), 'DATETIME_FORMAT')}."
            )
        locked.status = status
        locked.closed_at = now
        locked.save(update_fields=["status", "closed_at"])
        if open_case is not None:
            record_event(open_case, actor=None, actor_label=PROCESSOR, kind=CaseEvent.Kind.CHARGEBACK, now=now,
                         comment=f"Dispute {dispute_id} closed: {locked.get_status_display().lower()}.",
                         data={"chargeback_id": locked.pk, "dispute_id": dispute_id, "status": status})
    return locked


def _closing_status(won: bool | str) -> DisputeStatus:
    if isinstance(won, bool):
        return DisputeStatus.WON if won else DisputeStatus.LOST
    status = our_status(won) if isinstance(won, str) else None
    if status is None or status not in CLOSED_STATUSES:
        raise _invalid(f"{won!r} does not close a dispute: say won, lost, or how it closed otherwise.")
    return status


def _record(
    *,
    order: Order,
    actor: Actor | None,
    amount: Decimal | str,
    opened_at: datetime,
    processor_reference: str,
    dispute: _Dispute | None,
    now: datetime,
) -> Chargeback:
    """``chargeback_record`` once the actor may: the checks, the locks, the sanction, the case's note."""
    try:
        amount = parse_money(amount)
    except MoneyError:
        raise CaseActionError(Code.AMOUNT_INVALID) from None
    reference = (processor_reference or "").strip()
    if len(reference) > Chargeback._meta.get_field("processor_reference").max_length:
        raise _invalid("The processor reference is too long (120 characters at most).")
    if not isinstance(opened_at, datetime) or timezone.is_naive(opened_at):
        raise _invalid("Give the date and time the chargeback was opened, with its time zone.")
    if opened_at > now + CLOCK_SKEW:
        raise _invalid("The chargeback's opening time is in the future.")
    if opened_at < order.purchased_at:
        raise _invalid("The chargeback's opening time is before the purchase.")

    with transaction.atomic():
        # Two recordings at once (a double click, a processor webhook retried) would otherwise
        # both pass the duplicate check, and a lift running meanwhile could count the sanctions
        # before this one exists and unrestrict a customer who is being sanctioned right now.
        customer = Customer.objects.select_for_update().get(pk=order.customer_id)
        open_case = _lock_open_case(order.pk)
        locked = Order.objects.select_for_update(of=("self",)).select_related("storefront").get(pk=order.pk)
        if dispute is not None:
            # Under the customer's lock: a concurrent delivery of this dispute has committed by now.
            recorded = Chargeback.objects.filter(dispute_id=dispute.dispute_id).first()
            if recorded is not None:
                return recorded
            typed_in = locked.chargebacks.filter(processor_reference=reference, dispute_id="").first()
            if typed_in is not None:
                return _adopt(typed_in, dispute)
        if amount > locked.amount:
            raise _invalid(
                f"The chargeback amount {amount:.2f} is above what the order was paid "
                f"({locked.amount:.2f} {locked.currency})."
            )
        if reference and locked.chargebacks.filter(processor_reference=reference).exists():
            raise _invalid(f"A chargeback with processor reference {reference} is already recorded on this order.")
        # H-CAP, checked here under the order's row lock: two chargebacks read outside it would
        # both see the same remainder and together take back more than the customer paid.
        left = locked.amount - locked.refunded_amount - locked.charged_back_amount
        if amount > left:
            raise _invalid(
                f"The chargeback amount {amount:.2f} is above what is left on the order after refunds "
                f"and earlier chargebacks ({max(left, 0):.2f} {locked.currency}) (H-CAP)."
            )

        # A case opened at this very moment is not seen until it commits: its unique-open-case
        # constraint does not lock the order, so prior contact is judged on committed cases.
        prior_contact = RefundCase.objects.filter(order=locked, requested_at__lte=opened_at).exists()
        sanction = policy_for_order(locked).chargeback_sanction and not prior_contact
        chargeback = Chargeback(
            order=locked, amount=amount, processor_reference=reference, opened_at=opened_at,
            prior_contact=prior_contact, sanction_applied=sanction, recorded_by=actor,
        )
        if dispute is not None:
            _set_dispute(chargeback, dispute)
        if sanction:
            chargeback.restricted_customer = (
                not customer.restricted_from_ordering or _restricting(customer).exists()
            )
            chargeback.suspended_subscription = _suspend(locked)
        chargeback.save()
        if chargeback.restricted_customer:
            _refresh_restriction(customer)

        locked.status = Order.Status.CHARGEBACK
        # H-CAP: the bank returned this money, so no refund may pay it out a second time.
        locked.charged_back_amount += amount
        locked.save(update_fields=["status", "charged_back_amount"])
        if open_case is not None:
            _note_on_case(open_case, chargeback, actor=actor, now=now, lifted=False)
    return chargeback


def _set_dispute(chargeback: Chargeback, dispute: _Dispute) -> None:
    chargeback.dispute_id = dispute.dispute_id
    chargeback.reason = dispute.reason
    chargeback.evidence_due_by = dispute.due_by
    chargeback.status = DisputeStatus.OPEN


def _adopt(chargeback: Chargeback, dispute: _Dispute) -> Chargeback:
    """A chargeback typed in before its dispute came from the processor: the dispute's details added."""
    _set_dispute(chargeback, dispute)
    chargeback.save(update_fields=["dispute_id", "reason", "evidence_due_by", "status"])
    return chargeback


def chargeback_lift_sanction(*, chargeback: Chargeback, actor: Actor, note: str, now: datetime | None = None) -> Chargeback:
    """A manager lifts a chargeback's sanction (S1-CHARGEBACK), with a note saying why.

    The subscription a sanction suspended is reactivated once no sanction on the order is left,
    and the customer's restriction is lifted unless another unlifted chargeback sanction of theirs
    still holds it.
    """
    now = now or timezone.now()
    if actor is None or not actor.has_perm("orders.lift_sanction"):
        raise CaseActionError(Code.NO_PERMISSION, permission="lift chargeback sanctions, a manager's action")
    note = (note or "").strip()
    if not note:
        raise CaseActionError(Code.NOTE_REQUIRED, what="A note on why the sanction is lifted")

    order = Order.objects.only("pk", "customer_id").get(pk=chargeback.order_id)
    with transaction.atomic():
        # Two managers lifting at once would both see it unlifted; and two sanctions of one
        # customer lifted at once would each see the other still holding the restriction.
        customer = Customer.objects.select_for_update().get(pk=order.customer_id)
        open_case = _lock_open_case(order.pk)
        locked = Chargeback.objects.select_for_update(of=("self",)).select_related("order").get(pk=chargeback.pk)
        if not locked.sanction_applied:
            raise _invalid("This chargeback has no sanction to lift.")
        if locked.sanction_lifted_at is not None:
            by = locked.sanction_lifted_by.get_username() if locked.sanction_lifted_by else "someone"
            raise _invalid(
                f"This sanction was already lifted on {locked.sanction_lifted_at:%Y-%m-%d %H:%M} by {by}."
            )
        locked.sanction_lifted_at = now
        locked.sanction_lifted_by = actor
        locked.sanction_lift_note = note
        locked.save(update_fields=["sanction_lifted_at", "sanction_lifted_by", "sanction_lift_note"])

        if _sanctions_on_order(locked.order_id).filter(suspended_subscription=True).exists() and not (
            _unlifted().filter(order_id=locked.order_id).exists()
        ):
            subscription = Subscription.objects.select_for_update().filter(order_id=locked.order_id).first()
            if subscription is not None and subscription.status == Subscription.Status.SUSPENDED:
                subscription.status = Subscription.Status.ACTIVE
                subscription.save(update_fields=["status"])
        if locked.restricted_customer:
            _refresh_restriction(customer)
        if open_case is not None:
            _note_on_case(open_case, locked, actor=actor, now=now, lifted=True)
    return locked


# --- helpers ------------------------------------------------------------------------------


def _invalid(why: str) -> CaseActionError:
    return CaseActionError(Code.INVALID_INPUT, why=why)


def _lock_open_case(order_id: int) -> RefundCase | None:
    return (
        RefundCase.objects.select_for_update(of=("self",))
        .filter(order_id=order_id, state__in=OPEN_STATES)
        .first()
    )


def _unlifted() -> QuerySet[Chargeback]:
    return Chargeback.objects.filter(sanction_applied=True, sanction_lifted_at__isnull=True)


def _restricting(customer: Customer) -> QuerySet[Chargeback]:
    return _unlifted().filter(order__customer=customer, restricted_customer=True)


def _sanctions_on_order(order_id: int) -> QuerySet[Chargeback]:
    return Chargeback.objects.filter(order_id=order_id, sanction_applied=True)


def _suspend(order: Order) -> bool:
    subscription = Subscription.objects.select_for_update().filter(order=order).first()
    if subscription is None or subscription.status != Subscription.Status.ACTIVE:
        return False
    subscription.status = Subscription.Status.SUSPENDED
    subscription.save(update_fields=["status"])
    return True


def _refresh_restriction(customer: Customer) -> None:
    """The customer's restriction, as the chargeback sanctions still in force make it."""
    holding = list(_restricting(customer).select_related("order").order_by("opened_at", "pk"))
    customer.restricted_from_ordering = bool(holding)
    customer.restriction_reason = "; ".join(_describe(chargeback) for chargeback in holding)
    customer.save(update_fields=["restricted_from_ordering", "restriction_reason"])


def _summary(chargeback: Chargeback) -> str:
    reference = f" {chargeback.processor_reference}" if chargeback.processor_reference else ""
    return (
        f"Chargeback{reference} of {chargeback.amount:.2f} {chargeback.order.currency} on order "
        f"#{chargeback.order.number}, opened {chargeback.opened_at:%Y-%m-%d}"
    )


def _describe(chargeback: Chargeback) -> str:
    return f"{_summary(chargeback)} without contacting support first (S1-CHARGEBACK)"


def _note_on_case(case: RefundCase, chargeback: Chargeback, *, actor: Actor | None, now: datetime, lifted: bool) -> None:
    data = {
        "chargeback_id": chargeback.pk,
        "amount": f"{chargeback.amount:.2f}",
        "processor_reference": chargeback.processor_reference,
        "opened_at": chargeback.opened_at.isoformat(),
        "prior_contact": chargeback.prior_contact,
        "sanction_applied": chargeback.sanction_applied,
        "sanction_lifted": lifted,
    }
    if chargeback.dispute_id:
        data.update(dispute_id=chargeback.dispute_id, reason=chargeback.reason,
                    evidence_due_by=chargeback.evidence_due_by.isoformat() if chargeback.evidence_due_by else None)
    if lifted:
        comment = f"Chargeback sanction lifted: {chargeback.sanction_lift_note}"
    else:
        comment = f"{_summary(chargeback)}."
        if chargeback.dispute_id:
            comment += f" The bank's reason: {chargeback.reason_words.rstrip('.')}."
            if chargeback.evidence_due_by:
                due = date_format(timezone.localtime(chargeback.evidence_due_by), "DATETIME_FORMAT")
                comment += f" Evidence due by {due}."
        if chargeback.sanction_applied:
            done = [what for what, applied in (("subscription suspended", chargeback.suspended_subscription),
                                               ("customer restricted", chargeback.restricted_customer)) if applied]
            comment += f" No prior contact (S1-CHARGEBACK): {', '.join(done) or 'nothing left to suspend'}."
        elif chargeback.prior_contact:
            comment += " The customer had contacted support first: no sanction."
        case.flagged = True
        case.flag_reason = "Chargeback recorded on this order: the customer already got money back."
        case.save(update_fields=["flagged", "flag_reason", "updated_at"])
    label = PROCESSOR if actor is None and chargeback.dispute_id else None
    record_event(case, actor=actor, actor_label=label, kind=CaseEvent.Kind.CHARGEBACK, comment=comment, data=data,
                 now=now)
