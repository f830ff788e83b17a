"""What the customer reads: reasons, states, outcomes and history in their words, never our codes.

Every mapping covers every code (tests hold it): a new reason or state shows up here or fails the build.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

from cases.models import RefundCase
from cases.states import Resolution, State
from policies.selectors import clause_texts, policy_for_order
from policies.words import clause_text, own_clauses
from rules.engine import Outcome, Policy

REASON_WORDS = {
    "technical_issue": _("The service does not work (a technical problem)"),
    "setup_difficulty": _("I cannot set it up on my device"),
    "intermittent_streams": _("Channels freeze, buffer or drop out"),
    "changed_mind": _("I changed my mind"),
    "server_switch": _("I want to switch to another server"),
    "adult_channels_missing": _("Adult channels are missing"),
    "server_outage": _("The service was down for a long time"),
    "not_delivered": _("I never received my access details"),
    "duplicate_payment": _("Charged twice"),
    "other": _("Something else"),
}

STATE_WORDS = {
    State.REQUESTED: _("We are reviewing your request"),
    State.AWAITING_FIX: _("Our team is working on the problem"),
    State.EVIDENCE_REQUESTED: _("We need something from you"),
    State.APPROVED: _("Refund approved"),
    State.DENIED: _("Refund declined"),
    State.PAID: _("Refund sent"),
    State.RESOLVED: _("Resolved"),
    State.WITHDRAWN: _("Withdrawn"),
}

RESOLVED_WORDS = {
    Resolution.FIXED: _("Resolved: the problem was fixed"),
    Resolution.EXTENDED: _("Resolved: days were added to your subscription"),
}

OUTCOME_WORDS = {
    Outcome.FULL_REFUND: _("Refunded in full"),
    Outcome.PARTIAL_REFUND: _("Refunded for the unused part of the subscription"),
    Outcome.REFUND_OR_EXTENSION: _("A full refund, or extra days on your subscription"),
    Outcome.MANAGER_DISCRETION: _("A support manager decides; a refund is possible"),
    Outcome.DENY: _("Not refunded under the policy"),
    Outcome.NEEDS_FIX_ATTEMPT: _("We try to fix the problem first"),
    Outcome.AWAITING_FIX: _("We try to fix the problem first"),
    Outcome.RESOLVED: _("Fixed, so no refund is due"),
}

# House rules are the product's, not a published text: said here in the customer's words.
HOUSE_CLAUSE_WORDS = {
    "H-DUPLICATE": _("If you were charged twice, the extra charge is refunded in full, whatever the dates."),
    "H-CAP": _("We never refund more than what is left of what you paid."),
}
# Bookkeeping rules with nothing to tell a customer.
SILENT_CLAUSES = {"H-FULL-LABEL", "H-FOUR-EYES"}

# The customer's timeline: what each step of the case means to them. Transitions whose event is
# internal are still shown (without the staff's note), so that the history has no holes.
TRANSITION_WORDS = {
    "start_fix": _("We started working on the problem"),
    "fix_succeeded": _("We fixed the problem"),
    "fix_failed": _("The fix did not work; your request is back with our team"),
    "fix_window_expired": _("We could not fix the problem in time; your request is back with our team"),
    "request_evidence": _("We asked you for more information"),
    "evidence_received": _("We received your information"),
    "evidence_expired": _("We did not hear back; your request is back with our team"),
    "approve": _("Refund approved"),
    "approve_statutory": _("Refund approved"),
    "extend": _("Days were added to your subscription"),
    "deny": _("Refund declined"),
    "withdraw": _("The request was withdrawn"),
    "reopen": _("Your request was reopened"),
    "pay": _("Refund sent"),
}
# What the customer did themselves, in their words ("You ..."); staff read the same events as "The customer ...".
OWN_TRANSITION_WORDS = {
    "evidence_received": _("You sent the information we asked for; your request is back with our team"),
    "withdraw": _("You withdrew your request"),
}
OWN_KIND_WORDS = {
    "comment": _("You wrote"),
    "evidence": _("You sent a file"),
}
KIND_WORDS = {
    "created": _("You asked for a refund"),
    "comment": _("Message"),
    "evidence": _("File received"),
}


def reason_words(code: str) -> str:
    return str(REASON_WORDS.get(code, REASON_WORDS["other"]))


def state_words(case) -> str:
    if case.state == State.RESOLVED and case.resolution in RESOLVED_WORDS:
        return str(RESOLVED_WORDS[case.resolution])
    return str(STATE_WORDS.get(case.state, ""))


# Our own notes on the published text ("the list is missing from the copy") are for staff.
EDITORIAL = re.compile(r"\s*\([^)]*missing from the copy[^)]*\)")


def clause_words(clause_ids, *, policy: Policy, texts: dict | None = None) -> list[str]:
    """Each clause that decided, as ``policy`` (the version that judged) says it, once; house rules in our
    words; IDs stay internal, and only this storefront's clauses and the house rules are quoted.

    ``texts``: clause texts by ID the caller has read already (the deadline sweep, for a batch).
    """
    ids = [c for c in own_clauses(clause_ids, policy) if c not in SILENT_CLAUSES]
    if texts is None:
        texts = clause_texts([c for c in ids if c not in HOUSE_CLAUSE_WORDS])
    words = []
    for clause_id in ids:
        if clause_id in HOUSE_CLAUSE_WORDS:
            words.append(str(HOUSE_CLAUSE_WORDS[clause_id]))
        elif clause_id in texts:
            words.append(plain(clause_text(texts[clause_id].summary, policy)))
    return [w for w in dict.fromkeys(words) if w]


def plain(text: str) -> str:
    """A clause text without our notes on the copy and the markup staff pages render."""
    return EDITORIAL.sub("", text).replace("**", "").replace("`", "")


def arrival_words(case: RefundCase) -> list[str]:
    """What the policy says about the arrival of a paid refund, as the case's version words it: the portal
    and the e-mail quote these, and state the window's numbers nowhere else (it would say them twice)."""
    policy = policy_for_order(case.order)
    return clause_words([policy.clause("ARRIVAL"), policy.clause("NO-ACCELERATE")], policy=policy)
