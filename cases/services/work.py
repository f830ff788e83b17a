"""Working a case: fix attempts, evidence, comments, assignment, withdrawal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from cases import conditions
from cases.customer_links import CaseLink, issue_link, link_url
from cases.events import mail_customer_after_commit, record_event
from cases.models import CaseEvent, RefundCase
from cases.services.base import Step, lock_case, required_text, run_transition, seen
from cases.states import UNDECIDED_STATES, State
from core.errors import CaseActionError, Code
from orders.models import Order
from policies.selectors import policy_for_order

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _shared(note: str, customer_visible: bool) -> str:
    """A note reaches the customer only when staff chose so (the case page's "show to the customer")."""
    return CaseEvent.Visibility.CUSTOMER if customer_visible and note.strip() else CaseEvent.Visibility.INTERNAL


def case_start_fix(
    *, case: RefundCase | int, actor: User, note: str = "", customer_visible: bool = False,
    now: datetime | None = None, expected_state: str | None = None,
) -> RefundCase:
    """S0-FIX-FIRST: record a fix attempt; the deadline is the policy's fix window (S0-FIX-48H).

    The note stays internal unless ``customer_visible``; then it is on the customer's page and in the mail.
    """
    now = now or timezone.now()

    def window(locked: RefundCase) -> None:
        hours = policy_for_order(locked.order).fix_window_hours
        step.kwargs["deadline"] = now + timedelta(hours=hours)

    visibility = _shared(note, customer_visible)
    step = Step("start_fix", {"at": now}, comment=note, visibility=visibility, email="fix_started",
                email_extra={"note": note.strip() if visibility == CaseEvent.Visibility.CUSTOMER else ""})
    return run_transition(
        case=case, actor=actor, step=step, now=now, expected_state=seen(case, State.REQUESTED, expected_state), before=window,
    )


def case_fix_succeeded(
    *, case: RefundCase | int, actor: User, note: str = "", customer_visible: bool = False,
    now: datetime | None = None, expected_state: str | None = None,
) -> RefundCase:
    """The fix worked. The note stays internal unless ``customer_visible``, as for ``case_start_fix``."""
    visibility = _shared(note, customer_visible)
    step = Step("fix_succeeded", {}, comment=note, visibility=visibility, email="fix_succeeded",
                email_extra={"note": note.strip() if visibility == CaseEvent.Visibility.CUSTOMER else ""})
    return run_transition(case=case, actor=actor, step=step, now=now, expected_state=seen(case, State.AWAITING_FIX, expected_state))


def case_fix_failed(
    *, case: RefundCase | int, actor: User, note: str = "", now: datetime | None = None,
    expected_state: str | None = None,
) -> RefundCase:
    step = Step("fix_failed", {}, comment=note)
    return run_transition(case=case, actor=actor, step=step, now=now, expected_state=seen(case, State.AWAITING_FIX, expected_state))


def case_request_evidence(
    *, case: RefundCase | int, actor: User, message: str, now: datetime | None = None,
    expected_state: str | None = None,
) -> RefundCase:
    """S0-EVIDENCE / S1-VERIFY: ask the customer; due after the storefront's evidence days."""
    now = now or timezone.now()
    message = required_text(message, "A message to the customer")

    def due(locked: RefundCase) -> None:
        step.kwargs["due"] = now + timedelta(days=locked.order.storefront.evidence_due_days)
        clause = policy_for_order(locked.order).evidence_clause
        step.data = {"clauses": [clause] if clause else []}
        # The customer answers on their case page: the mail carries a fresh link (only hashes are kept).
        # No event of its own: the request is one line of history; the case page's links card lists it.

        secret = issue_link(case=locked, why=CaseLink.Why.EVIDENCE, actor=actor, now=now, record=False)
        step.email_extra = {"message": message, "portal_url": link_url(secret)}

    step = Step("request_evidence", {"at": now}, comment=message, visibility=CaseEvent.Visibility.CUSTOMER,
                 email="evidence_requested", email_extra={"message": message})
    return run_transition(
        case=case, actor=actor, step=step, now=now, expected_state=seen(case, State.REQUESTED, expected_state), before=due,
    )


def case_evidence_received(
    *, case: RefundCase | int, actor: User | None, note: str = "", now: datetime | None = None,
    expected_state: str | None = None, actor_label: str | None = None, visibility: str = CaseEvent.Visibility.INTERNAL,
    data: dict[str, Any] | None = None, after: Callable[[RefundCase], None] | None = None,
) -> RefundCase:
    """Back to review. ``actor=None`` with ``actor_label="customer"``: the customer answered (portal)."""
    step = Step("evidence_received", {}, comment=note, actor_label=actor_label, visibility=visibility, data=data)
    return run_transition(
        case=case, actor=actor, step=step, now=now, expected_state=seen(case, State.EVIDENCE_REQUESTED, expected_state),
        after=after,
    )


def case_withdraw(
    *, case: RefundCase | int, actor: User | None, note: str = "", now: datetime | None = None,
    expected_state: str | None = None, actor_label: str | None = None, data: dict[str, Any] | None = None,
) -> RefundCase:
    """The customer no longer wants the refund; possible from any open state.

    Withdrawing an approved case cancels its approval: that takes the authority that approved it
    (``can_withdraw``) and a written note, and the customer is told it was cancelled, not "as requested".
    """
    now = now or timezone.now()
    step = Step("withdraw", {"by": actor, "at": now}, comment=note.strip(), visibility=CaseEvent.Visibility.CUSTOMER,
                email="withdrawn", actor_label=actor_label, data=data)

    def cancelling(locked: RefundCase) -> None:
        if locked.state != State.APPROVED:
            return
        step.comment = required_text(note, "A note on why the approval is cancelled")
        step.data = {"approval_cancelled": f"{locked.approved_amount:.2f} {locked.order.currency}"}
        step.email = "approval_cancelled"
        step.email_extra = {"note": step.comment}

    return run_transition(case=case, actor=actor, step=step, now=now, expected_state=expected_state, before=cancelling)


def case_reopen(
    *, case: RefundCase | int, actor: User, note: str, now: datetime | None = None, expected_state: str | None = None
) -> RefundCase:
    """Reopen a denied or resolved case when the customer answers; the policy judges it again."""
    now = now or timezone.now()
    note = required_text(note, "A note on why the case is reopened")
    step = Step("reopen", {}, comment=note)

    def alone_on_its_order(locked: RefundCase) -> None:
        # Two closed cases of one order reopened at once each pass "no other open case" under their
        # own row lock; the order's lock (taken after the case's, as everywhere) makes the second
        # look again once the first has committed.
        Order.objects.select_for_update().get(pk=locked.order_id)
        if not conditions.no_other_open_case(locked, now):
            raise CaseActionError(Code.POLICY_BLOCKS, why=conditions.no_other_open_case.why(locked, now))

    try:
        return run_transition(case=case, actor=actor, step=step, now=now, expected_state=expected_state, before=alone_on_its_order)
    except IntegrityError:
        # A new request opened on the order meanwhile (case_create does not lock the order).
        raise CaseActionError(Code.POLICY_BLOCKS, why=conditions.no_other_open_case.why(case, now)) from None


def case_set_statutory_claim(
    *, case: RefundCase | int, actor: User, claimed: bool, note: str, now: datetime | None = None
) -> RefundCase:
    """Record that the customer invokes (or no longer invokes) their rights under local law (S1-STATUTORY).

    A claimed case waits in the managers' queue and only a manager may deny it; the customer's words
    go in the note. Withdrawing the mark is a manager's call too: an agent could otherwise clear it
    to deny the case themselves. Side effects: an internal event; no e-mail.
    """
    now = now or timezone.now()
    note = required_text(note, "A note with what the customer said")
    permission = ("cases.work_refundcase", "work refund cases") if claimed else (
        "cases.approve_exception", "decide consumer-law claims")
    if not actor.has_perm(permission[0]):
        raise CaseActionError(Code.NO_PERMISSION, permission=permission[1])
    with transaction.atomic():
        locked = lock_case(case)
        if locked.state not in UNDECIDED_STATES:
            raise CaseActionError(Code.WRONG_STATE, state=locked.state_phrase)
        if locked.statutory_claim == claimed:
            return locked
        locked.statutory_claim = claimed
        locked.save(update_fields=["statutory_claim", "updated_at"])
        record_event(locked, actor=actor, kind=CaseEvent.Kind.STATUTORY_CLAIM, comment=note, now=now,
                     data={"statutory_claim": claimed})
    return locked


REPEATED_COMMENT_WINDOW = timedelta(minutes=2)


def case_comment(
    *, case: RefundCase | int, actor: User | None, comment: str, customer_visible: bool = False,
    now: datetime | None = None,
) -> CaseEvent:
    now = now or timezone.now()
    if actor is not None and not actor.has_perm("cases.work_refundcase"):
        raise CaseActionError(Code.NO_PERMISSION, permission="work refund cases")
    comment = required_text(comment, "A comment")
    visibility = CaseEvent.Visibility.CUSTOMER if customer_visible else CaseEvent.Visibility.INTERNAL
    with transaction.atomic():
        # Under the case lock, so that a comment sent three times at once (double clicks, a retried
        # request) finds its own first copy and is stored, and mailed, once.
        locked = lock_case(case)
        repeated = locked.events.filter(
            kind=CaseEvent.Kind.COMMENT, actor=actor, comment=comment, visibility=visibility,
            created_at__gte=now - REPEATED_COMMENT_WINDOW,
        ).first()
        if repeated is not None:
            return repeated
        event = record_event(locked, actor=actor, kind=CaseEvent.Kind.COMMENT, comment=comment, visibility=visibility,
                        now=now)
        if customer_visible:
            mail_customer_after_commit(locked, "comment", comment=comment)
    return event


def case_message_read(*, case: RefundCase | int, actor: User | None) -> bool:
    """The assignee opened the case: the customer's new message is read. Whether anything changed.

    No event: opening a case is not part of its history. Anyone else opening it leaves the mark for
    the assignee; whoever answers the customer clears it too (``cases.events.follow_event``).
    """
    with transaction.atomic():
        locked = lock_case(case)
        if locked.customer_wrote_at is None or actor is None or locked.assignee_id != actor.pk:
            return False
        locked.customer_wrote_at = None
        locked.save(update_fields=["customer_wrote_at", "updated_at"])
    return True


def case_assign(
    *, case: RefundCase | int, actor: User, assignee: User | None, now: datetime | None = None
) -> RefundCase:
    """Hand the case to someone who can work it (or to nobody)."""
    now = now or timezone.now()
    if not actor.has_perm("cases.work_refundcase"):
        raise CaseActionError(Code.NO_PERMISSION, permission="work refund cases")
    if assignee is not None and not (assignee.is_active and assignee.has_perm("cases.work_refundcase")):
        raise CaseActionError(
            Code.INVALID_INPUT, why=f"{assignee.get_username()} cannot work refund cases, so cannot be assigned one."
        )
    with transaction.atomic():
        locked = lock_case(case)
        locked.assignee = assignee
        locked.save(update_fields=["assignee", "updated_at"])
        record_event(locked, actor=actor, kind=CaseEvent.Kind.ASSIGNED,
                comment=f"Assigned to {assignee.get_username()}" if assignee else "Unassigned", now=now)
    return locked
