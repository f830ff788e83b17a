"""Deadline sweeps, run every minute by ``manage.py sweep_deadlines``.

Safe to run twice at once: each case is locked with SKIP LOCKED and its condition re-checked under
the lock, so a case handled by one run is invisible to the other, and each action happens once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from cases import services
from cases.models import CaseEvent, RefundCase
from cases.states import State


@dataclass
class SweepReport:
    fix_windows_expired: list[str] = field(default_factory=list)
    evidence_reminders: list[str] = field(default_factory=list)
    evidence_expired: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.fix_windows_expired) + len(self.evidence_reminders) + len(self.evidence_expired)


def _lock_due(pk: int, state: str, now: datetime) -> RefundCase | None:
    # skip_locked: a concurrent sweep (or an agent mid-action) holds this case; leave it to them.
    case = (
        RefundCase.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("order__storefront", "order__plan", "order__customer")
        .filter(pk=pk, state=state, next_deadline__lt=now)
        .first()
    )
    if case is not None:
        case.as_of = now
    return case


def _transition(case: RefundCase, name: str, now: datetime, comment: str) -> None:
    from_state = case.state
    getattr(case, name)()
    case.decision = case.evaluate(as_of=now).as_dict()
    case.decided_at = now
    case.save()
    services._record(case, actor=None, kind=CaseEvent.Kind.TRANSITION, transition=name, from_state=from_state,
                     comment=comment, now=now)


def sweep_deadlines(*, now: datetime | None = None) -> SweepReport:
    now = now or timezone.now()
    report = SweepReport()
    due = RefundCase.objects.filter(
        state__in=[State.AWAITING_FIX, State.EVIDENCE_REQUESTED], next_deadline__lt=now
    ).values_list("pk", "state")
    for pk, state in due.iterator():
        with transaction.atomic():
            case = _lock_due(pk, state, now)
            if case is None:
                continue
            if state == State.AWAITING_FIX:
                if services.transition_error(case=case, user=None, name="fix_window_expired") is None:
                    _transition(case, "fix_window_expired", now,
                                "The fix window ran out with the issue unresolved (S0-FIX-48H).")
                    services._mail_after_commit(case, "fix_window_expired")
                    report.fix_windows_expired.append(case.number)
            elif case.evidence_reminded_at is None:
                grace = timedelta(days=case.order.storefront.evidence_grace_days)
                case.evidence_reminded_at = now
                case.evidence_due_at = now + grace
                case.next_deadline = case.evidence_due_at
                case.save(update_fields=["evidence_reminded_at", "evidence_due_at", "next_deadline", "updated_at"])
                services._record(case, actor=None, kind=CaseEvent.Kind.REMINDER,
                                 comment="Reminder sent: the requested evidence is overdue.",
                                 visibility=CaseEvent.Visibility.CUSTOMER, now=now)
                services._mail_after_commit(case, "evidence_reminder")
                report.evidence_reminders.append(case.number)
            elif services.transition_error(case=case, user=None, name="evidence_expired") is None:
                _transition(case, "evidence_expired", now,
                            "No evidence after the reminder: back to the agent's queue, flagged overdue.")
                report.evidence_expired.append(case.number)
    return report
