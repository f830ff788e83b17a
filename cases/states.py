from django.db import models


class State(models.TextChoices):
    REQUESTED = "requested", "Requested"
    AWAITING_FIX = "awaiting_fix", "Awaiting fix"
    EVIDENCE_REQUESTED = "evidence_requested", "Evidence requested"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    PAID = "paid", "Paid"
    RESOLVED = "resolved", "Resolved"
    WITHDRAWN = "withdrawn", "Withdrawn"


OPEN_STATES = (State.REQUESTED, State.AWAITING_FIX, State.EVIDENCE_REQUESTED, State.APPROVED)
# States in which an agent still decides the case (approve, deny, extend, withdraw).
UNDECIDED_STATES = (State.REQUESTED, State.AWAITING_FIX, State.EVIDENCE_REQUESTED)
CLOSED_STATES = (State.DENIED, State.PAID, State.RESOLVED, State.WITHDRAWN)


class Reason(models.TextChoices):
    TECHNICAL_ISSUE = "technical_issue", "Technical issue"
    SETUP_DIFFICULTY = "setup_difficulty", "Cannot set up own device"
    INTERMITTENT_STREAMS = "intermittent_streams", "Channels freeze or buffer"
    CHANGED_MIND = "changed_mind", "Changed mind"
    SERVER_SWITCH = "server_switch", "Wants to switch servers"
    ADULT_CHANNELS_MISSING = "adult_channels_missing", "Adult channels missing"
    SERVER_OUTAGE = "server_outage", "Server outage"
    NOT_DELIVERED = "not_delivered", "Access never delivered"
    DUPLICATE_PAYMENT = "duplicate_payment", "Charged twice"
    OTHER = "other", "Other"


class Channel(models.TextChoices):
    """S1-CONTACT, S0-REQUEST: where the request came in."""

    PORTAL = "portal", "Customer portal"
    EMAIL = "email", "E-mail"
    WHATSAPP = "whatsapp", "WhatsApp (entered by an agent)"
    ADMIN = "admin", "Entered by staff"


class FixOutcome(models.TextChoices):
    PENDING = "pending", "Pending"
    RESOLVED = "resolved", "Resolved"
    UNRESOLVED = "unresolved", "Unresolved"


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
