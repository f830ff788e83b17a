"""The case's history and the customer's mail: written by every service that changes a case."""

from __future__ import annotations

from datetime import datetime

from cases.models import CaseEvent, RefundCase
from cases.notifications import send_case_email

SYSTEM = "system"


def record_event(
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
    """Append one event carrying the case's current decision snapshot.

    ``actor_label`` names an actor who is not a user (the customer); without it, the user's name
    or "system".
    """
    event = case_event(case, actor=actor, kind=kind, now=now, transition=transition, from_state=from_state,
                       comment=comment, visibility=visibility, data=data, actor_label=actor_label)
    event.save(force_insert=True)
    return event


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
    """The event ``record_event`` appends, not yet saved (the deadline sweep inserts a batch at once)."""
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
