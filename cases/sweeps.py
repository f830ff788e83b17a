"""Deadline sweeps, run every minute by ``manage.py sweep_deadlines``.

- A fix window that ran out unresolved (S0-FIX-48H) sends the case back to ``requested`` with its
  new decision (a refund is now allowed), flagged for the assignee, and mails the customer.
- An evidence request past its due date gets one reminder (event and e-mail); the customer then has
  the storefront's grace days, after which the case returns to ``requested``, flagged overdue.

Safe to run several at once: each run takes the due cases in batches, locked with SKIP LOCKED in
the query that finds them, so a case one run holds is invisible to the others; once it is
committed its deadline has moved and it no longer matches. Each action happens once.

A batch is one transaction, and its work is done in bulk (docs/decisions/0029): the query that
locks the cases also reads their orders, plans, customers, subscriptions and payouts; one query
finds the policy versions, each turned into a Policy once per run; each transition is applied in
Python by ``services.base.apply_transition``, as every service's is (the checks at the sweep's
``now``, the FSM transition, the decision snapshot, the event and the mail it says to write); then
one update writes the cases, one insert their events and one insert the customers' mails to the
outbox (sent once the batch is committed). A reminder changes no fact of the case, so it takes no
new decision. A case that cannot be handled is logged and left as it was; the rest of its batch
goes on. Running again, or before a deadline, finds nothing to do.

A fix window runs out at exactly its deadline (S0-FIX-48H: at 48 h it is over), so it is due
when ``next_deadline <= now``; an evidence request is overdue only once its due time has passed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import DatabaseError, transaction
from django.db.models import Case, Q, QuerySet, Value, When
from django.utils import timezone

from cases.events import case_event, follow_event
from cases.models import CaseEvent, RefundCase
from cases.notifications import case_email
from cases.outbox import outbox_message, queue_mails
from cases.services.base import Applied, Mail, Step, apply_transition, case_columns, changed_columns
from cases.states import State
from core.errors import CaseActionError
from policies.selectors import clause_texts, preload_policies
from rules.engine import Policy

logger = logging.getLogger(__name__)

SWEPT_STATES = (State.AWAITING_FIX, State.EVIDENCE_REQUESTED)
BATCH_SIZE = 100
# ``decision`` is the one column whose new value differs from case to case (and a dict).
DECISION = RefundCase._meta.get_field("decision")
# The sweep's transitions, as steps like the services' own: what each logs and mails.
FIX_WINDOW_EXPIRED = Step(
    "fix_window_expired", {}, comment="The fix window ran out with the issue unresolved (S0-FIX-48H).",
    visibility=CaseEvent.Visibility.CUSTOMER, email="fix_window_expired",
)
EVIDENCE_EXPIRED = Step(
    "evidence_expired", {}, comment="No evidence after the reminder: back to the agent's queue, flagged overdue.",
)


@dataclass
class SweepReport:
    fix_windows_expired: list[str] = field(default_factory=list)
    evidence_reminders: list[str] = field(default_factory=list)
    evidence_expired: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.fix_windows_expired) + len(self.evidence_reminders) + len(self.evidence_expired)


@dataclass
class _Action:
    """What the sweep does to one locked case: what to write, and the SweepReport list it goes in."""

    applied: Applied
    report: str
    mail: dict | None = None  # the rendered mail (``case_email``), its outbox row's fields

    @property
    def case(self) -> RefundCase:
        return self.applied.case


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
    policies: dict[int, Policy] = {}  # by policy version: each becomes a Policy once per run
    while True:
        with transaction.atomic():
            batch = _lock_batch(now, exclude=tried, size=batch_size)
            tried.update(case.pk for case in batch)
            if batch:
                _handle(batch, now, report, policies)
        if len(batch) < batch_size:
            return report


def _lock_batch(now: datetime, *, exclude: set[int], size: int) -> list[RefundCase]:
    # The race: two sweeps (or a sweep and an agent mid-action) reach for the same due case.
    # skip_locked: a case another transaction holds is left to it, not waited for. And PostgreSQL
    # re-checks the filter on a row committed since this query began, so a case another run has
    # just handled (its deadline cleared or moved) no longer matches: whoever locks a case first
    # acts on it, and the others never see it. of=("self",): only the case rows are locked; the
    # order, storefront, plan, customer, subscription and payout are read along for the decision
    # and the mail, not locked (as ``lock_case`` does for one case).
    return list(
        due_cases(now=now).exclude(pk__in=exclude)
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("order__storefront", "order__plan", "order__customer", "order__subscription", "payout")[:size]
    )


def _handle(batch: list[RefundCase], now: datetime, report: SweepReport, policies: dict[int, Policy]) -> None:
    preload_policies([case.order for case in batch], policies=policies)
    actions = []
    for case in batch:
        try:
            action = _plan(case, now)
        except Exception:  # one broken case must not stop every later case, minute after minute
            _failed(report, case)
            continue
        if action is not None:
            actions.append(action)
    actions = _render_mails(actions, report)
    try:
        with transaction.atomic():
            _write(actions)
    except DatabaseError:
        # A row the database refuses must not take its whole batch with it: write each case alone.
        logger.warning("Deadline sweep: the batch write failed; writing its %s cases one by one", len(actions))
        written = []
        for action in actions:
            try:
                with transaction.atomic():
                    _write([action])
            except DatabaseError:
                _failed(report, action.case)
                continue
            written.append(action)
        actions = written
    for action in actions:
        getattr(report, action.report).append(action.case.number)


def _failed(report: SweepReport, case: RefundCase) -> None:
    logger.exception("Deadline sweep failed on case %s", case.number)
    report.failed.append(case.number)


def _plan(case: RefundCase, now: datetime) -> _Action | None:
    """The one action due on this locked case, applied to it in memory; None if none is."""
    if case.state == State.AWAITING_FIX:
        return _transition(case, now, FIX_WINDOW_EXPIRED, report="fix_windows_expired")
    if case.state != State.EVIDENCE_REQUESTED:
        return None
    if case.evidence_reminded_at is None:
        return _Action(_remind(case, now), report="evidence_reminders")
    return _transition(case, now, EVIDENCE_EXPIRED, report="evidence_expired")


def _transition(case: RefundCase, now: datetime, step: Step, *, report: str) -> _Action | None:
    """``step`` applied by the system, as every service applies a transition; None if it is refused."""
    try:
        applied = apply_transition(case, step=step, actor=None, now=now)
    except CaseActionError as refused:
        logger.warning("Case %s is past its deadline but %s is refused: %s", case.number, step.name, refused)
        return None
    return _Action(applied, report=report)


def _remind(case: RefundCase, now: datetime) -> Applied:
    columns = case_columns(case)
    was_due = case.evidence_due_at
    case.evidence_reminded_at = now
    case.evidence_due_at = now + timedelta(days=case.order.storefront.evidence_grace_days)
    case.next_deadline = case.evidence_due_at
    event = case_event(
        case, actor=None, kind=CaseEvent.Kind.REMINDER, now=now,
        comment="Reminder sent: the requested evidence is overdue.", visibility=CaseEvent.Visibility.CUSTOMER,
        data={"was_due_at": was_due.isoformat() if was_due else None, "due_at": case.evidence_due_at.isoformat()},
    )
    follow_event(case, event)
    return Applied(case=case, changes=changed_columns(case, columns), events=[event], mail=Mail("evidence_reminder"))


def _render_mails(actions: list[_Action], report: SweepReport) -> list[_Action]:
    """Render each customer mail, the clause texts they quote read once; a case whose mail fails is left out."""
    mailing = [action for action in actions if action.applied.mail]
    clauses = clause_texts({c for action in mailing for c in (action.case.decision or {}).get("clauses") or []})
    kept = []
    for action in actions:
        mail = action.applied.mail
        if mail:
            try:
                action.mail = case_email(action.case, mail.template, mail.extra, clauses=clauses)
            except Exception:
                _failed(report, action.case)
                continue
        kept.append(action)
    return kept


def _write(actions: list[_Action]) -> None:
    """One UPDATE per set of identical changes (an action on a storefront: a handful, however many
    cases), each row written once, with its own decision; one INSERT of the events, one of the mails."""
    if not actions:
        return
    saved_at = timezone.now()  # what ``auto_now`` would have set on a save
    alike: dict[tuple, list[_Action]] = defaultdict(list)
    for action in actions:
        action.case.updated_at = saved_at
        changes = {**action.applied.changes, "updated_at": saved_at}
        decided = changes.pop("decision", None) is not None
        alike[(tuple(sorted(changes.items())), decided)].append(action)
    for (changes, decided), group in alike.items():
        values = dict(changes)
        if decided:
            # In the same statement: a row updated twice leaves two new row versions, each in every index.
            values["decision"] = Case(
                *(When(pk=action.case.pk, then=Value(action.case.decision, output_field=DECISION)) for action in group),
                output_field=DECISION,
            )
        RefundCase.objects.filter(pk__in=[action.case.pk for action in group]).update(**values)
    events = [event for action in actions for event in action.applied.events]
    for event in events:
        event.pk = None  # a retry after a failed batch inserts anew rows that got ids in the rolled-back one
    CaseEvent.objects.bulk_create(events)
    # Built afresh on every call, for the same reason.
    queue_mails([outbox_message(**action.mail) for action in actions if action.mail])
