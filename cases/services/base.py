"""The machinery every case service runs on: lock, check, transition, snapshot, log, mail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from cases.checks import transition_error
from cases.errors import CaseActionError, Code
from cases.events import mail_customer_after_commit, record_event
from cases.models import CaseEvent, RefundCase
from policies import money
from policies.facts_json import MAX_OUTAGE_HOURS


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


def _refuse_unless_allowed(
    case: RefundCase, actor, name: str, *, expected_state: str | None, now: datetime
) -> None:
    if expected_state is not None and case.state != expected_state:
        state = case.state_phrase
        # A double click or a resubmitted form replays the actor's own action: say so, not "someone else".
        last = case.events.filter(kind=CaseEvent.Kind.TRANSITION).order_by("-created_at", "-pk").first()
        if actor is not None and last is not None and last.actor_id == actor.pk and last.transition == name:
            raise CaseActionError(Code.ALREADY_DONE_BY_YOU, action=name.replace("_", " "), state=state)
        raise CaseActionError(Code.ALREADY_DONE, state=state)
    error = transition_error(case=case, user=actor, name=name, now=now)
    if error is not None:
        raise error


def _takes_unassigned_case(case: RefundCase, actor) -> bool:
    """Whoever works an unassigned case owns it from then on, so the next reply has someone to go to."""
    return case.assignee_id is None and actor is not None and actor.has_perm("cases.work_refundcase")


@dataclass
class Step:
    """One transition as the services run it."""

    name: str
    kwargs: dict
    comment: str = ""
    visibility: str = CaseEvent.Visibility.INTERNAL
    email: str | None = None
    email_extra: dict | None = None
    data: dict | None = None
    actor_label: str | None = None  # an actor who is not a user, e.g. "customer" (portal)


def run_transition(
    case: RefundCase | int,
    actor,
    step: Step,
    *,
    now: datetime | None,
    expected_state: str | None,
    before: Callable[[RefundCase], None] | None = None,
    after: Callable[[RefundCase], None] | None = None,
) -> RefundCase:
    """Lock, check, transition, snapshot the decision, save, log and mail: one staff or system action.

    ``before`` validates input against the locked case (and may fill ``step``); ``after`` does the
    action's other writes once the state has moved. Either may raise CaseActionError, which rolls
    everything back.
    """
    now = now or timezone.now()
    limited_text(step.comment, "The note")
    with transaction.atomic():
        case = lock_case(case)
        _refuse_unless_allowed(case, actor, step.name, expected_state=expected_state, now=now)
        if before is not None:
            before(case)
        # Asked again as the transition is taken: a row we do not lock (another case of the order)
        # may have changed since the check above. Say what stands in the way, never a 500.
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
        takes_case = _takes_unassigned_case(case, actor)
        if takes_case:
            case.assignee = actor
        case.save()
        if takes_case:
            # Logged before the action it came with, so the action stays the case's latest event.
            record_event(case, actor=actor, kind=CaseEvent.Kind.ASSIGNED, now=now,
                         comment=f"Assigned to {actor.get_username()}, who acted on the unassigned case")
        record_event(
            case,
            actor=actor,
            kind=CaseEvent.Kind.TRANSITION,
            transition=step.name,
            from_state=from_state,
            comment=step.comment,
            visibility=step.visibility,
            data=step.data,
            now=now,
            actor_label=step.actor_label,
        )
        if step.email:
            mail_customer_after_commit(case, step.email, **(step.email_extra or {}))
    return case


# --- input helpers ------------------------------------------------------------------------


def parse_money(value) -> Decimal:
    """A positive amount of at most two decimals that the money columns can hold."""
    try:
        return money.parse_money(value)
    except money.MoneyError:
        raise CaseActionError(Code.AMOUNT_INVALID) from None


def parse_outage_hours(value) -> Decimal:
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
