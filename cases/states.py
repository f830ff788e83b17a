from django.db import models

from rules.engine import FIX_OUTCOME_LABELS, REASON_LABELS


class State(models.TextChoices):
    REQUESTED = "requested", "Requested"
    AWAITING_FIX = "awaiting_fix", "Awaiting fix"
    EVIDENCE_REQUESTED = "evidence_requested", "Evidence requested"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    PAID = "paid", "Paid"
    RESOLVED = "resolved", "Resolved"
    WITHDRAWN = "withdrawn", "Withdrawn"


# A state as a sentence says it: "the case is now waiting for evidence", "while the case is awaiting a fix".
STATE_PHRASES = {
    State.REQUESTED: "requested",
    State.AWAITING_FIX: "awaiting a fix",
    State.EVIDENCE_REQUESTED: "waiting for evidence",
    State.APPROVED: "approved",
    State.DENIED: "denied",
    State.PAID: "paid",
    State.RESOLVED: "resolved",
    State.WITHDRAWN: "withdrawn",
}

OPEN_STATES = (State.REQUESTED, State.AWAITING_FIX, State.EVIDENCE_REQUESTED, State.APPROVED)
# States in which an agent still decides the case (approve, deny, extend, withdraw).
UNDECIDED_STATES = (State.REQUESTED, State.AWAITING_FIX, State.EVIDENCE_REQUESTED)
CLOSED_STATES = (State.DENIED, State.PAID, State.RESOLVED, State.WITHDRAWN)


# Declared once, by the engine that reads them; the model's choices only mirror them.
Reason = models.TextChoices("Reason", [(code.upper(), (code, label)) for code, label in REASON_LABELS.items()])


class Channel(models.TextChoices):
    """S1-CONTACT, S0-REQUEST: where the request came in."""

    PORTAL = "portal", "Customer portal"
    EMAIL = "email", "E-mail"
    WHATSAPP = "whatsapp", "WhatsApp (entered by an agent)"
    ADMIN = "admin", "Entered by staff"


FixOutcome = models.TextChoices(
    "FixOutcome", [(code.upper(), (code, label)) for code, label in FIX_OUTCOME_LABELS.items()]
)


class DenyReason(models.TextChoices):
    POLICY_EXCLUSION = "policy_exclusion", "Excluded by the policy"
    OUTSIDE_WINDOW = "outside_window", "Outside the refund window"
    NOTHING_LEFT = "nothing_left", "Nothing left to refund"
    SERVICE_USED = "service_used", "Service already used"
    NO_EVIDENCE = "no_evidence", "Evidence not provided"
    ABUSE = "abuse", "Suspected abuse"
    OTHER = "other", "Other"


class Resolution(models.TextChoices):
    REFUNDED = "refunded", "Refunded"
    FIXED = "fixed", "Fixed"
    EXTENDED = "extended", "Extended"
    DENIED = "denied", "Denied"
    WITHDRAWN = "withdrawn", "Withdrawn"
