"""Refunds sent out through a shop: the request a click writes, and the answer that settles it once.

Paying a case whose order's refunds go through a shop (``cases.refund_channels``) writes a
``RefundRequest`` instead of a payout and hands it to a worker once committed; the case stays
approved, and pay and withdraw are refused while the request waits (``conditions.no_refund_waiting``).
The channel sends it and settles it with the services below, each of which locks the request row
first and acts only on a request still waiting: an answer read twice, or by two processes at once,
settles it once. Lock order: the request, then the case, then the order.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from celery import shared_task
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.checks import transition_error
from cases.events import record_event
from cases.models import CaseEvent, RefundCase, RefundRequest
from cases.refund_channels import channel_label, channel_named
from cases.selectors import PayRoute
from cases.services.base import Step, _refuse_if_moved, lock_case, run_transition
from cases.services.paying import checked_method, write_payout
from cases.states import State
from core import after_response
from core.errors import CaseActionError, Code

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

SENDING = RefundRequest.Status.SENDING
# The flag a refusal puts on the case; sending the refund again takes it off.
REFUSED = "The shop refused the refund"
MAX_MESSAGE_LENGTH = 2000


def refund_send(
    *, case: RefundCase, actor: User, route: PayRoute, reference: str, method: str | None, method_note: str,
    now: datetime, expected_state: str | None,
) -> RefundCase:
    """Ask the order's shop to refund the approved amount (``case_pay`` calls it, in its transaction,
    with the case locked): the request, an event, and the hand-off to a worker after commit."""
    assert route.channel is not None
    _refuse_if_moved(case, actor, "pay", expected_state=expected_state)
    waiting = case.refund_requests.filter(status=SENDING).first()
    if waiting is not None and waiting.requested_by_id == actor.pk:
        # A double click: the first one sent it.
        raise CaseActionError(Code.ALREADY_DONE_BY_YOU, action="send the refund",
                              state="approved, its refund waiting for the shop")
    refused = transition_error(case=case, user=actor, name="pay", now=now)
    if refused is not None:
        raise refused
    order, payout_method = checked_method(case, method=method, method_note=method_note, now=now)
    api_refund = route.api_refund_for(order=order, method=payout_method, reference=reference)
    if not api_refund and not reference:
        raise CaseActionError(Code.REFERENCE_REQUIRED)
    request = RefundRequest.objects.create(
        case=case, order=order, amount=case.approved_amount, currency=order.currency, method=payout_method,
        method_note=method_note.strip(), channel=route.channel.name, api_refund=api_refund,
        reference="" if api_refund else reference, requested_by=actor, requested_at=now,
    )
    label = route.channel.label
    if api_refund:
        how = "The shop returns the money through the order's payment gateway."
    else:
        how = f"The money was moved by hand (reference {reference}); the shop records the refund."
    if case.flagged and case.flag_reason.startswith(REFUSED):
        case.clear_flag()
        case.save(update_fields=["flagged", "flag_reason", "updated_at"])
    data = {"amount": f"{request.amount:.2f}", "currency": request.currency, "method": payout_method,
            "sent_to": label, "refund_key": request.key}
    if not api_refund:
        data["reference"] = reference
    record_event(case, actor=actor, kind=CaseEvent.Kind.REFUND, now=now, data=data,
                 comment=f"Refund sent, waiting for the shop ({label}). {how} The case is paid once the shop "
                         "confirms it.")
    transaction.on_commit(lambda: hand_refund_to_worker(request.pk))
    return case


def hand_refund_to_worker(request_id: int) -> None:
    """Ask a worker to send the refund now. Never raises: the request is committed, and if the broker
    cannot be reached the periodic settling (``settle_refunds``) sends it."""
    try:
        after_response.queue(send_refund_request, request_id)
    except Exception:
        logger.exception("Could not hand refund request %s to a worker; the next settling run sends it", request_id)


@shared_task(name="cases.send_refund_request", ignore_result=True)
def send_refund_request(request_id: int) -> None:
    """Send one refund request through its channel (which settles it if the shop answers for sure)."""
    request = RefundRequest.objects.filter(pk=request_id).only("channel", "status").first()
    if request is None or request.status != SENDING:
        return
    channel = channel_named(request.channel)
    if channel is None:
        logger.error("Refund request %s waits for channel %r, which is not registered", request_id, request.channel)
        return
    channel.send(request_id=request_id)


# --- the channel's side: an attempt, and the answer ----------------------------------------------


def _lock_request(request: RefundRequest | int, *, skip_locked: bool = False) -> RefundRequest | None:
    pk = request if isinstance(request, int) else request.pk
    return (RefundRequest.objects.select_for_update(of=("self",), skip_locked=skip_locked)
            .select_related("requested_by").filter(pk=pk).first())


def refund_request_attempt(
    *, request: RefundRequest | int, now: datetime, last_before: datetime | None,
) -> RefundRequest | None:
    """Take the right to send a waiting request to the shop now, counted as an attempt; ``None`` if
    another process holds it, it is settled, or it was sent at or after ``last_before`` (``None``:
    only a request never sent). The channel calls it just before it sends: of two processes that
    decide to send at once, one does."""
    with transaction.atomic():
        locked = _lock_request(request, skip_locked=True)
        if locked is None or locked.status != SENDING:
            return None
        if locked.last_attempt_at is not None and (last_before is None or locked.last_attempt_at >= last_before):
            return None
        locked.attempts += 1
        locked.last_attempt_at = now
        locked.save(update_fields=["attempts", "last_attempt_at"])
    return locked


def refund_request_note(*, request: RefundRequest | int, message: str) -> None:
    """The shop's last word on a request still waiting (no answer, a 5xx): shown on the case page."""
    pk = request if isinstance(request, int) else request.pk
    RefundRequest.objects.filter(pk=pk, status=SENDING).update(message=message[:MAX_MESSAGE_LENGTH])


def refund_request_confirm(
    *, request: RefundRequest | int, shop_refund_id: str, now: datetime | None = None, money_returned: bool = True,
) -> RefundRequest:
    """The shop made the refund (``shop_refund_id``): the case is paid, once, through the transition
    core; its payout's reference is the shop's refund id when the shop returned the money, the
    manager's when they moved it by hand. Called again, or by two processes at once, it pays once.

    ``money_returned=False`` on a request the shop was to return through the gateway (WooCommerce's
    ``refunded_payment`` false): the shop recorded a refund but moved no money, so nothing is paid and
    the case is flagged for a manager with the shop's refund id (``held``). A case that can no longer
    be paid (its remainder went to another refund or a chargeback meanwhile) is held the same way.
    """
    now = now or timezone.now()
    shop_refund_id = str(shop_refund_id or "").strip()[:64]
    if not shop_refund_id:
        raise ValueError("A refund the shop confirmed has the shop's refund id.")
    with transaction.atomic():
        locked = _lock_request(request)
        if locked is None:
            raise RefundRequest.DoesNotExist(f"No refund request {request}.")
        if locked.status != SENDING:
            return locked
        locked.shop_refund_id = shop_refund_id
        locked.settled_at = now
        if locked.api_refund and not money_returned:
            _hold(locked, now=now, why=f"The shop recorded refund {shop_refund_id} of this case but did not "
                                       "return the money through the order's payment gateway.")
            return locked
        locked.status = RefundRequest.Status.CONFIRMED
        locked.message = f"Refund {shop_refund_id} confirmed by the shop."
        locked.save(update_fields=["status", "shop_refund_id", "settled_at", "message"])
        try:
            _pay(locked, now=now)
        except (CaseActionError, IntegrityError) as error:
            why = error.message if isinstance(error, CaseActionError) else "the order's totals would not add up"
            _hold(locked, now=now, why=f"The shop made refund {shop_refund_id} of this case, but the case cannot "
                                       f"be marked paid: {why}")
    return locked


def _pay(request: RefundRequest, *, now: datetime) -> RefundCase:
    label = channel_label(request.channel)
    reference = request.shop_refund_id if request.api_refund else request.reference

    def pay_out(paying: RefundCase) -> None:
        if paying.approved_amount != request.amount:
            raise CaseActionError(Code.INVALID_INPUT, why=f"the approved amount is no longer the "
                                                         f"{request.amount:.2f} {request.currency} sent")
        order, _ = checked_method(paying, method=request.method, method_note=request.method_note, now=now)
        write_payout(paying, order=order, step=step, paid_by=request.requested_by, reference=reference,
                     method=request.method, method_note=request.method_note, shop_refund_id=request.shop_refund_id,
                     now=now)
        step.data.update({"shop_refund_id": request.shop_refund_id, "confirmed_by": label,
                          "sent_by": request.requested_by.get_username()})

    step = Step("pay", {}, visibility=CaseEvent.Visibility.CUSTOMER, email="paid", actor_label=label)
    return run_transition(case=request.case_id, actor=None, step=step, now=now, expected_state=State.APPROVED,
                          after=pay_out)


def _hold(request: RefundRequest, *, now: datetime, why: str) -> None:
    request.status = RefundRequest.Status.HELD
    request.message = why[:MAX_MESSAGE_LENGTH]
    request.save(update_fields=["status", "shop_refund_id", "settled_at", "message"])
    case = lock_case(request.case_id)
    case.flagged = True
    case.flag_reason = f"For a manager: the shop's refund {request.shop_refund_id} needs a look; see the history."[:200]
    case.save(update_fields=["flagged", "flag_reason", "updated_at"])
    record_event(case, actor=None, actor_label=channel_label(request.channel), kind=CaseEvent.Kind.REFUND, now=now,
                 comment=f"{why} The case is not marked paid and nothing more is sent to the shop for it: check the "
                         "order in the shop, then pay it by hand with the money's reference, or cancel the approval.",
                 data={"amount": f"{request.amount:.2f}", "currency": request.currency,
                       "shop_refund_id": request.shop_refund_id})


def refund_request_fail(*, request: RefundRequest | int, message: str, now: datetime | None = None) -> RefundRequest:
    """The shop refused the refund (``message``, its words): nothing was paid, the case stays approved
    and is flagged with the shop's message, and a manager may pay it again (a new request, a new key).
    Called again, or for a request already settled, it changes nothing."""
    now = now or timezone.now()
    message = " ".join(str(message or "").split()).rstrip(".") + "." if str(message or "").strip() else "No reason given."
    with transaction.atomic():
        locked = _lock_request(request)
        if locked is None:
            raise RefundRequest.DoesNotExist(f"No refund request {request}.")
        if locked.status != SENDING:
            return locked
        locked.status = RefundRequest.Status.FAILED
        locked.message = message[:MAX_MESSAGE_LENGTH]
        locked.settled_at = now
        locked.save(update_fields=["status", "message", "settled_at"])
        label = channel_label(locked.channel)
        case = lock_case(locked.case_id)
        case.flagged = True
        case.flag_reason = f"{REFUSED}: {message}"[:200]
        case.save(update_fields=["flagged", "flag_reason", "updated_at"])
        record_event(case, actor=None, actor_label=label, kind=CaseEvent.Kind.REFUND, now=now,
                     comment=f"{REFUSED} ({label}): {message} Nothing was paid; the case stays approved and can be "
                             "paid again.",
                     data={"amount": f"{locked.amount:.2f}", "currency": locked.currency})
    return locked


def settle_held_by_hand(*, request: RefundRequest, reference: str, actor: User, now: datetime) -> None:
    """A held refund paid by hand (``case_pay``, in its transaction): the shop's refund is this payout's."""
    settled = RefundRequest.objects.filter(pk=request.pk, status=RefundRequest.Status.HELD).update(
        status=RefundRequest.Status.CONFIRMED,
        message=f"Paid by hand by {actor.get_username()} (reference {reference}) on the shop's refund "
                f"{request.shop_refund_id}.",
    )
    if not settled:
        raise CaseActionError(Code.ALREADY_DONE, state="settled")
