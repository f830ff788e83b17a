"""The case's history and the customer's mail: written by every service that changes a case."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, Value
from django.db.models.functions import Coalesce

from cases.models import CaseEvent, RefundCase
from cases.notifications import send_case_email

SYSTEM = "system"


def record_event(case: RefundCase, **fields) -> CaseEvent:
    """Append one event carrying the case's current decision snapshot, and keep the case's copies of
    its history (first response, missed fix window) in step.

    ``fields`` are ``case_event``'s: ``actor``, ``kind`` and ``now``, then the optional ones.
    """
    event = case_event(case, **fields)
    event.save(force_insert=True)
    _keep_case_in_step(case, event)
    return event


def is_first_response(event: CaseEvent) -> bool:
    """A staff member answered: a transition they made, or a message they sent the customer."""
    if event.actor_id is None:
        return False
    return event.kind == CaseEvent.Kind.TRANSITION or (
        event.kind == CaseEvent.Kind.COMMENT and event.visibility == CaseEvent.Visibility.CUSTOMER
    )


def follow_event(case: RefundCase, event: CaseEvent) -> dict:
    """Set on ``case``, in memory, the columns that copy facts of its event log which ``event``
    changes (and the customer's unread message, which a staff answer reads); returns them (column ->
    new value). ``services.base.apply_transition`` follows its events with it, so that they are
    written with the rest of the transition's changes (one case's save, the deadline sweep's bulk update)."""
    changes = {}
    if case.first_response_at is None and is_first_response(event):
        changes["first_response_at"] = event.created_at
    if case.customer_wrote_at is not None and is_first_response(event):
        changes["customer_wrote_at"] = None  # staff answered the customer: their message is read
    if event.transition == "fix_window_expired" and not case.fix_window_missed:
        changes["fix_window_missed"] = True
    for column, value in changes.items():
        setattr(case, column, value)
    return changes


def _keep_case_in_step(case: RefundCase, event: CaseEvent) -> None:
    changes = follow_event(case, event)
    if "first_response_at" in changes:
        # The first answer stays first, even when this instance was read before another one was written.
        changes["first_response_at"] = Coalesce(F("first_response_at"), Value(event.created_at))
    if changes:
        RefundCase.objects.filter(pk=case.pk).update(**changes)


def case_event(
    case: RefundCase,
    *,
    actor,
    kind: str,
    now: datetime,
    transition: str = "",
    from_state: str = "",
    comment: str = "",
    visibility: str = CaseEvent.Visibility.INTERNAL,
    data: dict | None = None,
    actor_label: str | None = None,
) -> CaseEvent:
    """The event ``record_event`` appends, not yet saved (``apply_transition`` returns it for its caller
    to insert; the deadline sweep inserts a batch at once).

    ``actor_label`` names an actor who is not a user (the customer); without it, the user's name
    or "system".
    """
    if actor_label is None:
        actor_label = actor.get_username() if actor is not None else SYSTEM
    return CaseEvent(
        case=case,
        kind=kind,
        transition=transition,
        from_state=from_state,
        to_state=case.state if transition else "",
        actor=actor,
        actor_label=actor_label,
        created_at=now,
        decision=case.decision,
        comment=comment,
        visibility=visibility,
        data=data or {},
    )


def mail_customer_after_commit(case: RefundCase, template: str, **extra) -> None:
    """Write the customer's e-mail to the outbox in this transaction; it is sent once the change is
    committed, and a rolled-back action leaves no mail behind."""
    send_case_email(case_id=case.pk, template=template, extra=extra)
