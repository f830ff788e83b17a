"""The policy's decisions in words people read: outcome labels, badge tones, clause texts.

One vocabulary for every screen that shows a decision (the case page, its history, the simulator),
so an outcome is never called two things, and never shown as its internal code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from policies.selectors import clause_texts
from rules.engine import Outcome, Policy
from rules.wording import render_or_blank

OUTCOME_LABELS = {
    Outcome.FULL_REFUND: "Full refund",
    Outcome.PARTIAL_REFUND: "Partial refund",
    Outcome.REFUND_OR_EXTENSION: "Refund or extension",
    Outcome.MANAGER_DISCRETION: "Manager's discretion",
    Outcome.DENY: "Deny",
    Outcome.NEEDS_FIX_ATTEMPT: "Needs a fix attempt",
    Outcome.AWAITING_FIX: "Awaiting the fix",
    Outcome.RESOLVED: "Resolved",
}

# Colour of an outcome badge: money may move, wait, or no.
OUTCOME_TONES = {
    Outcome.FULL_REFUND: "go",
    Outcome.PARTIAL_REFUND: "go",
    Outcome.REFUND_OR_EXTENSION: "go",
    Outcome.MANAGER_DISCRETION: "wait",
    Outcome.AWAITING_FIX: "wait",
    Outcome.NEEDS_FIX_ATTEMPT: "wait",
    Outcome.RESOLVED: "neutral",
    Outcome.DENY: "stop",
}

def outcome_words(outcome: str) -> str:
    return OUTCOME_LABELS.get(outcome) or str(outcome).replace("_", " ").capitalize()


def outcome_tone(outcome: str) -> str:
    return OUTCOME_TONES.get(outcome, "neutral")


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")


def inline_markup(text: str) -> SafeString:
    """The small markdown the policy texts use (**bold**, `code`), escaped first so nothing else renders."""
    escaped = str(escape(text or ""))
    return mark_safe(_CODE.sub(r"<code>\1</code>", _BOLD.sub(r"<strong>\1</strong>", escaped)))  # noqa: S308


@dataclass
class ClauseLine:
    clause_id: str
    summary: SafeString
    action: SafeString


def own_clauses(clause_ids, policy: Policy) -> list[str]:
    """The IDs a decision under ``policy`` may cite: its own storefront's clauses and the house rules, once each.

    A stored decision or event is read as it was written; an ID of another storefront's policy is
    left out rather than shown to someone who never had that policy.
    """
    prefixes = (f"{policy.code}-", "H-")
    return list(dict.fromkeys(c for c in clause_ids or () if isinstance(c, str) and c.startswith(prefixes)))


def clause_text(text: str, policy: Policy) -> str:
    """A clause text as it reads under ``policy``: its numbers and exclusions are that version's."""
    return render_or_blank(text, policy)


def clause_lines(clause_ids, *, policy: Policy) -> list[ClauseLine]:
    ids = own_clauses(clause_ids, policy)
    texts = clause_texts(ids)
    lines = []
    for clause_id in ids:
        clause = texts.get(clause_id)
        lines.append(ClauseLine(
            clause_id, inline_markup(clause_text(clause.summary, policy) if clause else ""),
            inline_markup(clause_text(clause.action, policy) if clause else ""),
        ))
    return lines
