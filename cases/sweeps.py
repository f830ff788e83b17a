"""Deadline sweeps, run every minute by ``manage.py sweep_deadlines``.

- A fix window that ran out unresolved (S0-FIX-48H) sends the case back to ``requested`` with its
  new decision (a refund is now allowed), flagged for the assignee, and mails the customer.
- An evidence request past its due date gets one reminder (event and e-mail); the customer then has
  the storefront's grace days, after which the case returns to ``requested``, flagged overdue.

Safe to run several at once: each run takes the due cases in batches, locked with SKIP LOCKED in
the query that finds them, so a case one run holds is invisible to the others; once it is
committed its deadline has moved and it no longer matches. Each action happens once. A batch is
one transaction (each case in its own savepoint): a thousand due cases cost ten commits, not a
thousand, and the customers' mails go out when the batch is committed. Running again, or before a
deadline, finds nothing to do.

A fix window runs out at exactly its deadline (S0-FIX-48H: at 48 h it is over), so it is due
when ``next_deadline <= now``; an evidence request is overdue only once its due time has passed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from cases import services
from cases.errors import CaseActionError
from cases.events import mail_customer_after_commit, record_event
from cases.models import CaseEvent, RefundCase
from cases.states import State

logger = logging.getLogger(__name__)

SWEPT_STATES = (State.AWAITING_FIX, State.EVIDENCE_REQUESTED)
BATCH_SIZE = 100


@dataclass
class SweepReport:
    fix_windows_expired: list[str] = field(default_factory=list)
    evidence_reminders: list[str] = field(default_factory=list)
    evidence_expired: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.fix_windows_expired) + len(self.evidence_reminders) + len(self.evidence_expired)


def due_q(*, now: datetime) -> Q:
    """Cases whose deadline has come, as ``conditions.fix_window_over`` and ``evidence_overdue_after_reminder``
    judge them; served by the (state, next_deadline) index."""
    return Q(state=State.AWAITING_FIX, next_deadline__lte=now) | Q(
        state=State.EVIDENCE_REQUESTED, next_deadline__lt=now
    )


def due_cases(*, now: datetime) -> QuerySet[RefundCase]:
    return RefundCase.objects.filter(due_q(now=now)).order_by("next_deadline", "pk")


def sweep_deadlines(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> SweepReport:
    now = now or timezone.now()
    report = SweepReport()
    tried: set[int] = set()  # acted on, refused or failed in this run: not taken again until the next
    while True:
        with transaction.atomic():
            batch = _lock_batch(now, exclude=tried, size=batch_size)
            for case in batch:
                tried.add(case.pk)
                try:
                    with transaction.atomic():  # one broken case rolls back alone
                        done = _act(case, now)
                except Exception:  # one broken case must not stop every later case, minute after minute
                    logger.exception("Deadline sweep failed on case %s", case.number)
                    report.failed.append(case.number)
                    continue
                if done is not None:
                    getattr(report, done).append(case.number)
        if len(batch) < batch_size:
            return report


def _lock_batch(now: datetime, *, exclude: set[int], size: int) -> list[RefundCase]:
    # skip_locked: a concurrent sweep (or an agent mid-action) holds this case; leave it to them.
    # PostgreSQL re-checks the filter on a row committed since the query began, so a case another
    # run has just handled no longer matches.
    cases = list(
        due_cases(now=now).exclude(pk__in=exclude)
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("order__storefront")[:size]
    )
    for case in cases:
        case.as_of = now
    return cases


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
        services.run_transition(case, None, step, now=now, expected_state=case.state)
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
