"""Chargebacks and the sanction S1-CHARGEBACK attaches to them.

A chargeback is the processor's word on an order, but what it does is a case's business: it flags
the order's open case and writes on its history. Rows are locked in one order everywhere: customer,
case, order, chargeback, subscription. The case services lock a case before its order, so taking
the order first here could deadlock with a payout running at the same moment.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from cases.events import record_event
from cases.models import CaseEvent, RefundCase
from cases.states import OPEN_STATES
from core.errors import CaseActionError, Code
from core.typing import Actor
from orders.models import Chargeback, Customer, Order, Subscription
from policies.selectors import policy_for_order
from rules.money import MoneyError, parse_money

CLOCK_SKEW = timedelta(minutes=5)


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
    if lifted:
        comment = f"Chargeback sanction lifted: {chargeback.sanction_lift_note}"
    else:
        comment = f"{_summary(chargeback)}."
        if chargeback.sanction_applied:
            done = [what for what, applied in (("subscription suspended", chargeback.suspended_subscription),
                                               ("customer restricted", chargeback.restricted_customer)) if applied]
            comment += f" No prior contact (S1-CHARGEBACK): {', '.join(done) or 'nothing left to suspend'}."
        elif chargeback.prior_contact:
            comment += " The customer had contacted support first: no sanction."
        case.flagged = True
        case.flag_reason = "Chargeback recorded on this order: the customer already got money back."
        case.save(update_fields=["flagged", "flag_reason", "updated_at"])
    record_event(case, actor=actor, kind=CaseEvent.Kind.CHARGEBACK, comment=comment, data=data, now=now)
