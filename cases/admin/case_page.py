"""What the case page shows: the live decision, the actions, the order, the evidence, the history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from cases.admin.links import portal_links_context
from cases.admin.transitions import BY_NAME, STAFF_TRANSITIONS, TRANSITION_LABELS
from cases.checks import evidence_error
from cases.forms import AssignForm, CommentForm, EvidenceUploadForm, ReasonForm, StatutoryClaimForm
from cases.models import CaseEvent, Evidence, OutboxMessage, RefundCase
from cases.outbox import case_outbox
from cases.selectors import (
    TransitionOption,
    case_evidence,
    case_refund_requests,
    case_timeline,
    customer_history,
    is_overdue,
    order_chargebacks,
    transition_options,
)
from cases.states import UNDECIDED_STATES, Channel, DenyReason, Reason, State
from orders.models import Order, Subscription
from policies.selectors import policy_for_order
from policies.words import clause_lines, inline_markup, outcome_tone, outcome_words
from rules.engine import Decision, add_business_days


@dataclass
class ActionCard:
    option: TransitionOption
    form: forms.Form
    url: str
    style: str

    @property
    def label(self) -> str:
        """The form's own name for the action when it has one ("Send the refund through WooCommerce")."""
        return getattr(self.form, "action_label", "") or self.option.label


# Event data kept for audits and machines, not for the person reading the history.
HIDDEN_EVENT_DATA = {"sha256", "evidence_id", "content_type", "size", "from_customer", "original_name", "kind",
                     "chargeback_id", "refund_key"}


# Transitions no button offers (the deadline sweeps') still appear in the history.
SYSTEM_TRANSITION_LABELS = {
    "fix_window_expired": "Fix window ran out",
    "evidence_expired": "Evidence request expired",
}
STATE_LABELS = dict(State.choices)


def transition_words(name: str) -> str:
    return TRANSITION_LABELS.get(name) or SYSTEM_TRANSITION_LABELS.get(name) or name.replace("_", " ").capitalize()


# The customer's own steps in staff words; their case page says the same events as "You ...".
CUSTOMER_TRANSITION_WORDS = {
    "evidence_received": "The customer sent what was asked for",
    "withdraw": "The customer withdrew the request",
}
CUSTOMER_KIND_WORDS = {
    "comment": "The customer sent a message",
    "evidence": "The customer sent a file",
}


@dataclass
class TimelineRow:
    event: CaseEvent
    details: list[tuple[str, str]]

    @property
    def by_customer(self) -> bool:
        return self.event.actor_id is None and self.event.actor_label == "customer"

    @property
    def title(self) -> str:
        if self.by_customer:
            words = CUSTOMER_TRANSITION_WORDS.get(self.event.transition) or (
                "" if self.event.transition else CUSTOMER_KIND_WORDS.get(self.event.kind))
            if words:
                return words
        if self.event.transition:
            return transition_words(self.event.transition)
        return self.event.get_kind_display()

    @property
    def comment(self) -> str:
        # A customer's step carries no note of theirs; older events stored the customer's page wording.
        if self.by_customer and self.event.transition:
            return ""
        return self.event.comment

    @property
    def from_label(self) -> str:
        return STATE_LABELS.get(self.event.from_state, self.event.from_state)

    @property
    def to_label(self) -> str:
        return STATE_LABELS.get(self.event.to_state, self.event.to_state)

    @property
    def decision_label(self) -> str:
        return outcome_words((self.event.decision or {}).get("outcome", ""))


def _detail_value(value) -> str:
    if isinstance(value, dict) and {"min", "max"} <= value.keys():
        return f"{value['min']}–{value['max']} business days (worst {value.get('worst', value['max'])})"
    if isinstance(value, dict):
        # Never a Python dict in front of people: "key value, key value".
        return ", ".join(" ".join(_detail(k, v)) for k, v in value.items() if v not in ("", None))
    if isinstance(value, (list, tuple)):
        return ", ".join(_detail_value(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _choice_words(choices) -> Callable[[object], str]:
    labels = dict(choices)
    return lambda value: str(labels.get(value, value)) if isinstance(value, str) else _detail_value(value)


def _when_words(value) -> str:
    try:
        return date_format(timezone.localtime(datetime.fromisoformat(str(value))), "DATETIME_FORMAT")
    except (TypeError, ValueError):
        return str(value)


# Event data is stored in codes (for audits and reports); each key says how to put its value in words.
EVENT_VALUE_WORDS: dict[str, Callable[[object], str]] = {
    "outcome": lambda value: outcome_words(str(value)),
    "deny_reason": _choice_words(DenyReason.choices),
    "reason": _choice_words(Reason.choices),
    "channel": _choice_words(Channel.choices),
    "method": _choice_words(Order.PAYMENT_METHOD_CHOICES),
    "was_due_at": _when_words,
    "due_at": _when_words,
    "expires_at": _when_words,
    "opened_at": _when_words,
    "sender_date": _when_words,
}
EVENT_KEY_WORDS = {"deny_reason": "denial reason", "from": "before", "to": "after", "was_due_at": "was due",
                   "due_at": "now due",
                   "expires_at": "expires", "opened_at": "opened", "sender_date": "sent"}


def _detail(key: str, value) -> tuple[str, str]:
    words = EVENT_VALUE_WORDS.get(key)
    return EVENT_KEY_WORDS.get(key, key.replace("_", " ")), words(value) if words else _detail_value(value)


def timeline_rows(events: list[CaseEvent]) -> list[TimelineRow]:
    return [
        TimelineRow(
            event,
            [_detail(key, value) for key, value in (event.data or {}).items()
             if key not in HIDDEN_EVENT_DATA and value not in ("", None)],
        )
        for event in events
    ]


@dataclass
class EvidenceItem:
    evidence: Evidence
    file_url: str
    thumbnail_url: str

    @property
    def name(self) -> str:
        stored = getattr(self.evidence, "original_name", "") or ""
        return stored or (self.evidence.file.name.rsplit("/", 1)[-1] if self.evidence.file else "")


@dataclass
class MailItem:
    message: OutboxMessage
    send_again_url: str  # only for a failed message: the "Send again" button posts here


def _url(site_name: str, name: str, *args) -> str:
    return reverse(f"{site_name}:cases_refundcase_{name}", args=args)


def _arrival_dates(decision: Decision, now: datetime) -> dict | None:
    if decision.arrival is None:
        return None
    today = timezone.localdate(now)
    return {
        "window": decision.arrival,
        "by": add_business_days(today, decision.arrival.max),
        "worst_by": add_business_days(today, decision.arrival.worst),
    }


def order_glance(case: RefundCase) -> dict:
    order = case.order
    history = customer_history(case=case)
    subscription = getattr(order, "subscription", None)
    if subscription is not None:
        subscription.order = order  # period_end reads the plan through it; reuse the joined row
    return {
        "order": order,
        "customer": order.customer,
        "subscription": subscription,
        "period_end": subscription.period_end if subscription else None,
        "suspended": subscription is not None and subscription.status == Subscription.Status.SUSPENDED,
        "hours_to_request": (case.requested_at - order.purchased_at).total_seconds() / 3600,
        "chargebacks": order_chargebacks(order),
        "other_cases": history.cases_on(order.pk),
        "history": history,
    }


def _forms_for(options, *, case, decision, retry: dict | None, site_name: str) -> list[ActionCard]:
    cards = []
    for option in options:
        if not option.allowed:
            continue
        form = _retry_form(
            BY_NAME[option.name].form, retry, option.name, case=case, decision=decision, prefix=option.name
        )
        cards.append(
            ActionCard(option, form, _url(site_name, "act", case.pk, option.name), BY_NAME[option.name].style)
        )
    return cards


def _retry_form(form_class, retry: dict | None, action: str, **kwargs):
    if retry and retry.get("action") == action:
        form = form_class(retry.get("data") or {}, **kwargs)
        form.is_valid()  # shows the field errors of the rejected attempt next to its fields
        return form
    return form_class(**kwargs)


def case_page_context(*, request, case: RefundCase, site_name: str, retry: dict | None) -> dict:
    now = timezone.now()  # one moment for the decision panel and every button's check
    decision = case.evaluate(as_of=now)
    glance = order_glance(case)
    if glance["history"].order_cases is not None:
        case.order_cases = glance["history"].order_cases  # what ``no_other_open_case`` would ask again
    refund_requests = case_refund_requests(case=case)
    case.known_refund_requests = refund_requests  # what the pay form's route would ask again
    options = transition_options(
        case=case, user=request.user, transitions=[(t.name, t.label) for t in STAFF_TRANSITIONS], now=now
    )
    snapshot = case.decision or {}
    # Evidence holds the customer's screenshots and pasted logs: only people allowed to see it get it.
    can_view_evidence = request.user.has_perm("cases.view_evidence")
    evidence = [
        EvidenceItem(
            item,
            _url(site_name, "evidence_file", case.pk, item.pk) if item.file else "",
            _url(site_name, "evidence_thumbnail", case.pk, item.pk) if item.file and item.is_image else "",
        )
        for item in case_evidence(case=case)
    ] if can_view_evidence else []
    return {
        **portal_links_context(case=case, user=request.user, now=now, site_name=site_name),
        "case": case,
        "now": now,
        "overdue": is_overdue(case, now=now),
        "decision": decision,
        "decision_style": "go" if getattr(case, "payout", None) else outcome_tone(decision.outcome),
        "decision_label": outcome_words(decision.outcome),
        "decision_explanation": inline_markup(decision.explanation),
        "snapshot_label": outcome_words(snapshot.get("outcome", "")),
        "decision_clauses": clause_lines(decision.clauses, policy=policy_for_order(case.order)),
        "arrival": _arrival_dates(decision, now),
        "snapshot": snapshot,
        "snapshot_differs": bool(snapshot) and snapshot != decision.as_dict(),
        "actions": _forms_for(options, case=case, decision=decision, retry=retry, site_name=site_name),
        "blocked": [o for o in options if not o.allowed and not o.wrong_state],
        "not_in_state": [o for o in options if o.wrong_state],
        "glance": glance,
        "payout": getattr(case, "payout", None),
        "refund_requests": refund_requests,
        "refund_latest": refund_requests[0] if refund_requests else None,
        "timeline": timeline_rows(case_timeline(case=case)),
        "outbox": [
            MailItem(message, _url(site_name, "mail_send_again", case.pk, message.pk) if message.failed else "")
            for message in case_outbox(case=case)
        ],
        "evidence": evidence,
        "comment_form": _retry_form(CommentForm, retry, "comment"),
        "assign_form": AssignForm(initial={"assignee": case.assignee_id}),
        "reason_form": ReasonForm(initial={"reason": case.reason, "outage_hours": case.outage_hours}),
        "can_set_reason": request.user.has_perm("cases.work_refundcase")
        and case.state in (State.REQUESTED, State.EVIDENCE_REQUESTED),
        "statutory_form": StatutoryClaimForm(initial={"claimed": not case.statutory_claim}),
        "can_mark_statutory": case.state in UNDECIDED_STATES and request.user.has_perm(
            "cases.approve_exception" if case.statutory_claim else "cases.work_refundcase"),
        "evidence_form": EvidenceUploadForm(),
        "can_work": request.user.has_perm("cases.work_refundcase"),
        "can_add_evidence": request.user.has_perm("cases.add_evidence"),
        "evidence_blocked": evidence_error(case=case, user=request.user),
        "can_view_evidence": can_view_evidence,
        "urls": {
            "comment": _url(site_name, "comment", case.pk),
            "assign": _url(site_name, "assign", case.pk),
            "reason": _url(site_name, "reason", case.pk),
            "statutory": _url(site_name, "statutory", case.pk),
            "evidence": _url(site_name, "evidence_add", case.pk),
            "order": reverse(f"{site_name}:orders_order_change", args=[case.order_id]),
        },
    }
