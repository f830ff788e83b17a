"""Deadline sweeps, run every minute by ``manage.py sweep_deadlines``.

- A fix window that ran out unresolved (S0-FIX-48H) sends the case back to ``requested`` with its
  new decision (a refund is now allowed), flagged for the assignee, and mails the customer.
- An evidence request past its due date gets one reminder (event and e-mail); the customer then has
  the storefront's grace days, after which the case returns to ``requested``, flagged overdue.

Safe to run twice at once: each case is locked with SKIP LOCKED and its deadline re-checked under
the lock, so a case handled by one run is invisible to the other, and each action happens once.
Running again, or before a deadline, finds nothing to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from cases import services
from cases.errors import CaseActionError
from cases.events import mail_customer_after_commit, record_event
from cases.models import CaseEvent, RefundCase
from cases.states import State

logger = logging.getLogger(__name__)

SWEPT_STATES = (State.AWAITING_FIX, State.EVIDENCE_REQUESTED)


@dataclass
class SweepReport:
    fix_windows_expired: list[str] = field(default_factory=list)
    evidence_reminders: list[str] = field(default_factory=list)
    evidence_expired: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.fix_windows_expired) + len(self.evidence_reminders) + len(self.evidence_expired)


def sweep_deadlines(*, now: datetime | None = None) -> SweepReport:
    now = now or timezone.now()
    report = SweepReport()
    due = list(
        RefundCase.objects.filter(state__in=SWEPT_STATES, next_deadline__lt=now)
        .order_by("next_deadline", "pk")
        .values_list("pk", "state", "number")
    )
    for pk, state, number in due:
        try:
            with transaction.atomic():
                case = _lock_due(pk, state, now)
                done = _act(case, now) if case is not None else None
        except Exception:  # one broken case must not stop every later case, minute after minute
            logger.exception("Deadline sweep failed on case %s", number)
            report.failed.append(number)
            continue
        if done is not None:
            getattr(report, done).append(number)
    return report


def _lock_due(pk: int, state: str, now: datetime) -> RefundCase | None:
    # skip_locked: a concurrent sweep (or an agent mid-action) holds this case; leave it to them.
    # The filter is evaluated again under the lock, so a case another run has just committed no
    # longer matches.
    case = (
        RefundCase.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("order__storefront")
        .filter(pk=pk, state=state, next_deadline__lt=now)
        .first()
    )
    if case is not None:
        case.as_of = now
    return case


def _act(case: RefundCase, now: datetime) -> str | None:
    """The one action due on this locked case, by the name of its report list; None if none is."""
    if case.state == State.AWAITING_FIX:
        step = services.Step(
            "fix_window_expired", {},
            comment="The fix window ran out with the issue unresolved (S0-FIX-48H).",
            visibility=CaseEvent.Visibility.CUSTOMER, email="fix_window_expired",
        )
        return "fix_windows_expired" if _expire(case, step, now) else None
    if case.state != State.EVIDENCE_REQUESTED:
        return None
    if case.evidence_reminded_at is None:
        _remind(case, now)
        return "evidence_reminders"
    step = services.Step(
        "evidence_expired", {},
        comment="No evidence after the reminder: back to the agent's queue, flagged overdue.",
    )
    return "evidence_expired" if _expire(case, step, now) else None


def _expire(case: RefundCase, step, now: datetime) -> bool:
    try:
        services.run_transition(case.pk, None, step, now=now, expected_state=case.state)
    except CaseActionError as refused:
        logger.warning("Case %s is past its deadline but %s is refused: %s", case.number, step.name, refused)
        return False
    return True


def _remind(case: RefundCase, now: datetime) -> None:
    was_due = case.evidence_due_at
    case.evidence_reminded_at = now
    case.evidence_due_at = now + timedelta(days=case.order.storefront.evidence_grace_days)
    case.next_deadline = case.evidence_due_at
    case.save(update_fields=["evidence_reminded_at", "evidence_due_at", "next_deadline", "updated_at"])
    record_event(
        case, actor=None, kind=CaseEvent.Kind.REMINDER,
        comment="Reminder sent: the requested evidence is overdue.",
        visibility=CaseEvent.Visibility.CUSTOMER,
        data={"was_due_at": was_due.isoformat() if was_due else None, "due_at": case.evidence_due_at.isoformat()},
        now=now,
    )
    mail_customer_after_commit(case, "evidence_reminder")
