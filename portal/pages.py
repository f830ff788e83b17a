"""Reads for the customer's case page: everything in their words, nothing staff-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse
from django.utils import timezone

from cases.customer_timeline import customer_timeline
from cases.customer_words import arrival_words, clause_words, state_words
from cases.models import Evidence, RefundCase
from cases.states import OPEN_STATES, UNDECIDED_STATES, State
from policies.models import PolicyVersion
from policies.selectors import policy_for_order
from rules.engine import Outcome


def evidence_request(case: RefundCase) -> dict | None:
    """What the agent asked for, while the case waits for the customer."""
    if case.state != State.EVIDENCE_REQUESTED:
        return None
    event = case.events.filter(transition="request_evidence").order_by("-created_at", "-id").first()
    return {"message": event.comment if event else "", "due": case.evidence_due_at}


def _approved_decision(case: RefundCase) -> dict:
    snapshot = case.decision or {}
    amount = case.approved_amount
    as_decided = snapshot.get("outcome") in (Outcome.FULL_REFUND, Outcome.PARTIAL_REFUND) and (
        snapshot.get("refund_amount") == f"{amount:.2f}"
    )
    return {
        "amount": amount,
        "currency": case.order.currency,
        "explanation": snapshot.get("explanation", "") if as_decided and not case.statutory_override else "",
        "clauses": clause_words(snapshot.get("clauses"), policy=policy_for_order(case.order)) if as_decided and not case.statutory_override else [],
    }


def decision_block(case: RefundCase) -> dict:
    """The decision as the customer reads it: what was decided, why, in the policy's words."""
    snapshot = case.decision or {}
    if case.state in (State.APPROVED, State.PAID) and case.approved_amount is not None:
        return {"kind": "approved", **_approved_decision(case)}
    if case.state == State.DENIED:
        event = case.events.filter(transition="deny").order_by("-created_at", "-id").first()
        clauses = (event.data or {}).get("clauses") if event else snapshot.get("clauses")
        note = event.comment if event else ""
        return {"kind": "denied", "explanation": note or snapshot.get("explanation", ""),
                "clauses": clause_words(clauses, policy=policy_for_order(case.order))}
    if case.state in UNDECIDED_STATES and snapshot:
        return {"kind": "so_far", "explanation": snapshot.get("explanation", ""),
                "clauses": clause_words(snapshot.get("clauses"), policy=policy_for_order(case.order))}
    return {"kind": "none"}


def arrival_block(case: RefundCase) -> dict | None:
    """S0-ARRIVAL / S1-ARRIVAL once paid, and S0-NO-ACCELERATE where the policy says it."""
    payout = getattr(case, "payout", None)
    if payout is None:
        return None
    return {
        "payout": payout,
        "min": payout.arrival_min_days,
        "max": payout.arrival_max_days,
        "worst": payout.arrival_worst_days,
        "by": payout.expected_by,
        "worst_by": payout.expected_worst_by,
        "policy_words": arrival_words(case),
    }


@dataclass(frozen=True)
class CustomerFile:
    evidence: Evidence
    url: str
    thumbnail_url: str


def customer_files(case: RefundCase, secret: str) -> list[CustomerFile]:
    """The files the customer sent: staff proof of service stays internal."""
    items = []
    for item in case.evidence.filter(from_customer=True).exclude(file="").order_by("created_at", "id"):
        url = reverse("portal:file", args=[secret, item.pk])
        thumb = reverse("portal:thumbnail", args=[secret, item.pk]) if item.is_image else ""
        items.append(CustomerFile(item, url, thumb))
    return items


def case_page(*, case: RefundCase, secret: str, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    return {
        "case": case,
        "storefront": case.order.storefront,
        "status": state_words(case),
        "needed": evidence_request(case),
        "decision": decision_block(case),
        "arrival": arrival_block(case),
        "timeline": customer_timeline(case),
        "files": customer_files(case, secret),
        "can_upload": case.state in OPEN_STATES,
        "can_withdraw": case.state in UNDECIDED_STATES,
        "today": timezone.localdate(now),
    }



@dataclass(frozen=True)
class PublishedVersion:
    text: str  # rendered from the version's own rules
    since: datetime
    until: datetime | None  # when the next version took over; None while in force


def policy_versions(storefront, *, now: datetime) -> dict:
    """S1-VERSIONING for customers: the text in force, the earlier ones with their dates, and a coming one."""

    versions = list(PolicyVersion.objects.filter(storefront=storefront).select_related("storefront")
                    .order_by("effective_from"))
    started = [v for v in versions if v.effective_from <= now] or versions[:1]
    shown = [PublishedVersion(v.rendered_text(), v.effective_from, following.effective_from if following else None)
             for v, following in zip(versions, [*versions[1:], None])]
    current = len(started) - 1
    return {
        "current": shown[current] if shown else None,
        "earlier": shown[:current][::-1] if shown else [],
        "coming": shown[current + 1:] if shown else [],
    }
