"""A case's history as the customer reads it: their portal page shows it, and the evidence packet a
bank receives quotes it, so both say the same thing in the same words and neither shows a staff note."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _

from cases.customer_words import KIND_WORDS, OWN_KIND_WORDS, OWN_TRANSITION_WORDS, TRANSITION_WORDS
from cases.models import CaseEvent, RefundCase


@dataclass(frozen=True)
class TimelineEntry:
    when: datetime
    title: str
    text: str


def timeline_entry(event: CaseEvent) -> TimelineEntry | None:
    """One event as the customer reads it; the staff history renders the same event in its own words."""
    customer_visible = event.visibility == CaseEvent.Visibility.CUSTOMER
    own = event.actor_id is None and event.actor_label == "customer"
    if event.transition:
        if own and event.transition in OWN_TRANSITION_WORDS:
            # Older events carry these words as their note too: said once.
            return TimelineEntry(event.created_at, str(OWN_TRANSITION_WORDS[event.transition]), "")
        title = TRANSITION_WORDS.get(event.transition)
        if title is None:
            return None
        return TimelineEntry(event.created_at, str(title), event.comment if customer_visible else "")
    if not customer_visible:
        return None
    title = OWN_KIND_WORDS.get(event.kind) if own else None
    title = title or KIND_WORDS.get(event.kind)
    if title is None:
        return None
    text = event.comment
    if event.kind == CaseEvent.Kind.EVIDENCE:
        text = (event.data or {}).get("original_name", "")
    elif event.kind == CaseEvent.Kind.COMMENT and not own:
        title = _("Message from our support team")
    return TimelineEntry(event.created_at, str(title), text)


def customer_timeline(case: RefundCase, *, oldest_first: bool = False) -> list[TimelineEntry]:
    """The customer's timeline of ``case``, newest first as their page shows it, or oldest first."""
    events = case.events.order_by("created_at", "id") if oldest_first else case.events.order_by("-created_at", "-id")
    return [entry for entry in (timeline_entry(e) for e in events) if entry is not None]
