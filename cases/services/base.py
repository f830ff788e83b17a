"""The machinery every case service runs on: lock, check, apply a transition, write what it changed.

``apply_transition`` is the one place a transition is applied, at a moment it is given: it checks
the actor and the policy, runs the FSM transition, takes the decision snapshot and says what to
write (the changed columns, the events, the customer's mail). ``run_transition`` writes that for one
case (a click); the deadline sweep (``cases.sweeps``) writes it for a batch of cases at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from cases.checks import transition_error
from cases.events import case_event, follow_event, mail_customer_after_commit
from cases.models import CaseEvent, RefundCase
from core.errors import CaseActionError, Code
from policies.facts_json import MAX_OUTAGE_HOURS
from rules import money

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# What an action may change on the case, compared before and after it to know what to write
# (``updated_at`` is the writer's: the moment of the write, not of the action).
COLUMNS = tuple(
    f.attname for f in RefundCase._meta.concrete_fields if not f.primary_key and f.attname != "updated_at"
)


def lock_case(case: RefundCase | int) -> RefundCase:
    case_id = case if isinstance(case, int) else case.pk
    # Lock the case row for the whole transaction: two people clicking at once (or a sweep and
    # an agent) would otherwise both pass the checks against the same old state.
    return RefundCase.objects.select_for_update(of=("self",)).select_related(
        "order__storefront", "order__plan", "order__customer"
    ).get(pk=case_id)


def seen(case: RefundCase | int, state: str, given: str | None = None) -> str | None:
    """The state the caller expects: ``given`` if it said, else ``state`` as its copy showed it.

    A caller who saw the case in ``state`` and finds it changed under the lock lost a race
    (ALREADY_DONE); a caller who acted on a case it knew to be elsewhere gets WRONG_STATE.
    """
    if given is not None:
        return given
    if isinstance(case, RefundCase) and case.state != state:
        return None
    return state


def _refuse_if_moved(case: RefundCase, actor: User | None, name: str, *, expected_state: str | None) -> None:
    """Refuse an action taken on a copy of the case that is no longer its state (a race, a double click)."""
    if expected_state is None or case.state == expected_state:
        return
    state = case.state_phrase
    # A double click or a resubmitted form replays the actor's own action: say so, not "someone else".
    last = case.events.filter(kind=CaseEvent.Kind.TRANSITION).order_by("-created_at", "-pk").first()
    if actor is not None and last is not None and last.actor_id == actor.pk and last.transition == name:
        raise CaseActionError(Code.ALREADY_DONE_BY_YOU, action=name.replace("_", " "), state=state)
    raise CaseActionError(Code.ALREADY_DONE, state=state)


def _takes_unassigned_case(case: RefundCase, actor: User | None) -> bool:
    """Whoever works an unassigned case owns it from then on, so the next reply has someone to go to."""
    return case.assignee_id is None and actor is not None and actor.has_perm("cases.work_refundcase")


@dataclass
class Step:
    """One transition as the services run it: the FSM method, its arguments, and what is logged and mailed."""

    name: str
    kwargs: dict[str, Any]
    comment: str = ""
    visibility: str = CaseEvent.Visibility.INTERNAL
    email: str | None = None
    email_extra: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    actor_label: str | None = None  # an actor who is not a user, e.g. "customer" (portal)


@dataclass(frozen=True)
class Mail:
    """The customer e-mail an action sends once it is committed: a template and what it adds to the context."""

    template: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Applied:
    """An action applied in memory to a locked case: what its caller writes, in the same transaction."""

    case: RefundCase
    changes: dict[str, Any]  # column (attname) -> new value: what changed on the case
    events: list[CaseEvent]  # unsaved, in the order they are recorded
    mail: Mail | None = None


def case_columns(case: RefundCase) -> dict[str, Any]:
    return {column: getattr(case, column) for column in COLUMNS}


def changed_columns(case: RefundCase, before: dict[str, Any]) -> dict[str, Any]:
    """The columns changed on ``case`` since ``before`` (``case_columns``), with their new values."""
    return {column: value for column, value in case_columns(case).items() if before[column] != value}


def apply_transition(
    case: RefundCase,
    *,
    step: Step,
    actor: User | None,
    now: datetime,
    before: Callable[[RefundCase], None] | None = None,
    after: Callable[[RefundCase], None] | None = None,
) -> Applied:
    """Check, transition, snapshot the decision and log: ``step`` applied at ``now`` to a case the
    caller has locked and loaded, in memory. Returns what to write; the case row itself is not written.

    ``actor=None`` is the system (the deadline sweep), which needs no permission. Raises
    CaseActionError if the transition may not be taken (its state, its conditions, the actor's
    permission). ``before`` validates input against the locked case (and may fill ``step``); ``after``
    does the action's other writes once the state has moved. Either may raise CaseActionError; what
    they wrote is undone by the caller's transaction, which a refusal rolls back.
    """
    refused = transition_error(case=case, user=actor, name=step.name, now=now)
    if refused is not None:
        raise refused
    columns = case_columns(case)
    if before is not None:
        before(case)
    # Asked again as the transition is taken: a row we do not lock (another case of the order) may
    # have changed since the check above. Say what stands in the way, never a 500.
    refused = transition_error(case=case, user=None, name=step.name, now=now)
    if refused is not None:
        raise refused
    from_state = case.state
    getattr(case, step.name)(**step.kwargs)
    # The decision the action was taken under: after the transition (a failed fix changes the
    # facts) but before its side effects (a payout would otherwise read as "nothing left").
    case.decision = case.evaluate(as_of=now).as_dict()
    case.decided_at = now
    if after is not None:
        after(case)
    events = []
    if _takes_unassigned_case(case, actor):
        case.assignee = actor
        # Logged before the action it came with, so the action stays the case's latest event.
        events.append(case_event(case, actor=actor, kind=CaseEvent.Kind.ASSIGNED, now=now,
                                 comment=f"Assigned to {actor.get_username()}, who acted on the unassigned case"))
    events.append(case_event(
        case, actor=actor, kind=CaseEvent.Kind.TRANSITION, transition=step.name, from_state=from_state,
        comment=step.comment, visibility=step.visibility, data=step.data, now=now, actor_label=step.actor_label,
    ))
    for event in events:
        follow_event(case, event)  # the case's copies of its history (first response, missed fix window)
    case.refresh_needs_manager()
    mail = Mail(step.email, step.email_extra or {}) if step.email else None
    return Applied(case=case, changes=changed_columns(case, columns), events=events, mail=mail)


def run_transition(
    *,
    case: RefundCase | int,
    actor: User | None,
    step: Step,
    now: datetime | None,
    expected_state: str | None,
    before: Callable[[RefundCase], None] | None = None,
    after: Callable[[RefundCase], None] | None = None,
) -> RefundCase:
    """One staff, customer or system action on one case: lock it, refuse a stale copy's action,
    apply ``step`` (``apply_transition``, where ``before`` and ``after`` are described) and write
    what changed, the events and the mail, which leaves once the transaction has committed.
    """
    now = now or timezone.now()
    limited_text(step.comment, "The note")
    with transaction.atomic():
        case = lock_case(case)
        _refuse_if_moved(case, actor, step.name, expected_state=expected_state)
        applied = apply_transition(case, step=step, actor=actor, now=now, before=before, after=after)
        _write(applied)
    return case


def _write(applied: Applied) -> None:
    """Write one applied action: the case's changed columns, then its events, then queue its mail."""
    case = applied.case
    case.save(update_fields=[*applied.changes, "updated_at"])
    for event in applied.events:
        event.save(force_insert=True)
    if applied.mail is not None:
        mail_customer_after_commit(case, applied.mail.template, **applied.mail.extra)


# --- input helpers ------------------------------------------------------------------------


def parse_money(value: object) -> Decimal:
    """A positive amount of at most two decimals that the money columns can hold."""
    try:
        return money.parse_money(value)
    except money.MoneyError:
        raise CaseActionError(Code.AMOUNT_INVALID) from None


def parse_outage_hours(value: object) -> Decimal:
    try:
        hours = Decimal(str(value).strip())
        valid = hours.is_finite() and 0 <= hours <= MAX_OUTAGE_HOURS and hours == hours.quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError):
        valid = False
    if not valid:
        raise CaseActionError(
            Code.INVALID_INPUT, why="Outage hours must be a number of hours, 0 or more, with at most one decimal."
        )
    return hours


# Notes and comments are read on the case page and mailed to customers: a page of text, not a log dump
# (evidence takes pasted logs). The staff forms carry the same limit so the message comes before the POST.
MAX_NOTE_LENGTH = 4000


def limited_text(value: str, what: str) -> str:
    text = value or ""
    if len(text) > MAX_NOTE_LENGTH:
        raise CaseActionError(
            Code.INVALID_INPUT, why=f"{what} is too long ({len(text)} characters; at most {MAX_NOTE_LENGTH})."
        )
    return text


def required_text(value: str, what: str) -> str:
    text = limited_text(value, what).strip()
    if not text:
        raise CaseActionError(Code.NOTE_REQUIRED, what=what)
    return text
