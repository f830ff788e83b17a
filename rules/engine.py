"""The refund policy engine: facts about one case in, a decision out.

Pure Python on purpose: no ORM, no clock, no settings. The FSM conditions, the admin's decision
panel, the simulator and the customer e-mails all call :func:`decide`, so a clause is written
once, here, and cited by its ID (the clauses are described in ``docs/policies.md``).
"""

from __future__ import annotations

import calendar
from dataclasses import FrozenInstanceError, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from functools import cached_property

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Every reason code and fix outcome, with the words people see: the case model's choices, the
# simulator's form and the facts JSON all read these, so a new code is added here and nowhere else.
REASON_LABELS = {
    "technical_issue": "Technical issue",
    "setup_difficulty": "Cannot set up own device",
    "intermittent_streams": "Channels freeze or buffer",
    "changed_mind": "Changed mind",
    "server_switch": "Wants to switch servers",
    "adult_channels_missing": "Adult channels missing",
    "server_outage": "Server outage",
    "not_delivered": "Access never delivered",
    "duplicate_payment": "Charged twice",
    "other": "Other",
}
REASONS = tuple(REASON_LABELS)
PAYMENT_METHOD_LABELS = {"card": "Card", "paypal": "PayPal", "crypto": "Crypto", "bank_transfer": "Bank transfer",
                         "other": "Other"}
PAYMENT_METHODS = tuple(PAYMENT_METHOD_LABELS)
BRAND_METHODS = frozenset({"paypal"})  # names a sentence keeps as the brand spells them


def payment_method_words(code: str) -> str:
    """The method inside a sentence: "by card", "by bank transfer", "by PayPal"."""
    label = PAYMENT_METHOD_LABELS.get(code, code)
    return label if code in BRAND_METHODS else label.lower()
PLAN_MONTHS = (1, 3, 6, 12)
FIX_OUTCOME_LABELS = {"pending": "Pending", "resolved": "Resolved", "unresolved": "Unresolved"}
FIX_OUTCOMES = tuple(FIX_OUTCOME_LABELS)


class Outcome:
    FULL_REFUND = "full_refund"
    PARTIAL_REFUND = "partial_refund"
    REFUND_OR_EXTENSION = "refund_or_extension"
    MANAGER_DISCRETION = "manager_discretion"
    DENY = "deny"
    NEEDS_FIX_ATTEMPT = "needs_fix_attempt"
    AWAITING_FIX = "awaiting_fix"
    RESOLVED = "resolved"

    # Outcomes under which money may move (the amount is then the most that may be refunded).
    REFUNDABLE = (FULL_REFUND, PARTIAL_REFUND, REFUND_OR_EXTENSION, MANAGER_DISCRETION)


@dataclass(frozen=True)
class ArrivalWindow:
    """Business days until a paid refund reaches the customer (S0-ARRIVAL, S1-ARRIVAL)."""

    min: int
    max: int
    worst: int

    def as_dict(self) -> dict[str, int]:
        return {"min": self.min, "max": self.max, "worst": self.worst}


@dataclass(frozen=True)
class Policy:
    """The parameters of one policy version; each rule carries the clause ID it enforces.

    A rule whose parameter is ``None`` (or ``False``) is not part of that policy.
    """

    storefront: str
    version: str
    code: str  # clause ID prefix, "S0" or "S1"
    full_refund_window_hours: int | None = None  # S0-WINDOW
    prorate_after_window: bool = False  # S0-PARTIAL
    fix_first: bool = False  # S0-FIX-FIRST
    fix_window_hours: int = 48  # S0-FIX-48H
    outage_guarantee_hours: int | None = None  # S0-OUTAGE
    used_on_delivery: bool = False  # S1-USED-ON-DELIVERY
    discretion_after_delivery: bool = False  # S1-DISCRETION
    # reason code -> clause ID that excludes it (S0-NO-*, S1-NOT-ELIGIBLE)
    exclusions: dict[str, str] = field(default_factory=dict)
    # S0-NO-INTERMITTENT also covers short outages: outages up to the guarantee are "rarely offline".
    short_outage_clause: str | None = None
    arrival_card: ArrivalWindow = ArrivalWindow(20, 31, 90)
    arrival_other: ArrivalWindow = ArrivalWindow(20, 90, 90)
    chargeback_sanction: bool = False  # S1-CHARGEBACK
    statutory_override: bool = False  # S1-STATUTORY
    evidence_clause: str = ""  # S0-EVIDENCE / S1-VERIFY

    def clause(self, suffix: str) -> str:
        return f"{self.code}-{suffix}"

    def arrival_for(self, payment_method: str) -> ArrivalWindow:
        return self.arrival_card if payment_method == "card" else self.arrival_other

    @cached_property
    def rules(self) -> _Rules:
        """What :func:`decide` reads of this policy, worked out once per policy rather than per decision."""
        return _Rules(self)


@dataclass(frozen=True)
class FixAttempt:
    started_at: datetime
    outcome: str  # "pending" | "resolved" | "unresolved"


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the policy looks at. Datetimes are timezone-aware."""

    price: Decimal
    currency: str
    payment_method: str
    plan_months: int
    purchased_at: datetime
    requested_at: datetime
    reason: str
    as_of: datetime
    devices: int = 1
    delivered_at: datetime | None = None
    refunded_so_far: Decimal = ZERO
    fix_attempt: FixAttempt | None = None
    outage_hours: Decimal = Decimal(0)

    @property
    def remainder(self) -> Decimal:
        """Refundable remainder: paid minus everything already refunded on the order."""
        left = self.price - self.refunded_so_far
        return left.quantize(CENT) if left > ZERO else ZERO


_DECISION_FIELDS = (
    "outcome", "refund_amount", "currency", "policy_version", "clauses", "explanation", "extension_days", "arrival",
)


class _DecisionSlots:
    # A plain slotted object the constructor fills with ordinary assignments; see Decision.__new__.
    __slots__ = _DECISION_FIELDS


class Decision(_DecisionSlots):
    """What the policy decides for one case. Immutable: assigning or deleting a field raises
    ``dataclasses.FrozenInstanceError``; equal when every field is."""

    __slots__ = ()

    outcome: str
    refund_amount: Decimal | None
    currency: str
    policy_version: str
    clauses: tuple[str, ...]
    explanation: str
    extension_days: int | None
    arrival: ArrivalWindow | None

    def __new__(
        cls,
        outcome: str,
        refund_amount: Decimal | None,
        currency: str,
        policy_version: str,
        clauses: tuple[str, ...],
        explanation: str,
        extension_days: int | None = None,
        arrival: ArrivalWindow | None = None,
    ) -> Decision:
        # Every decision builds one of these: a frozen dataclass spends most of its construction in
        # object.__setattr__ per field. The fields are set on the mutable slotted base, then the
        # object becomes a Decision (same layout), whose __setattr__ refuses any later change.
        self = _new_slots(_DecisionSlots)
        self.outcome = outcome
        self.refund_amount = refund_amount
        self.currency = currency
        self.policy_version = policy_version
        self.clauses = clauses
        self.explanation = explanation
        self.extension_days = extension_days
        self.arrival = arrival
        self.__class__ = cls
        return self

    def __setattr__(self, name, value):
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def _values(self) -> tuple:
        return (self.outcome, self.refund_amount, self.currency, self.policy_version, self.clauses, self.explanation,
                self.extension_days, self.arrival)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return "Decision(" + ", ".join(f"{name}={value!r}" for name, value in zip(_DECISION_FIELDS, self._values(),
                                                                                  strict=True)) + ")"

    def __reduce__(self):  # copy and pickle rebuild it through the constructor
        return (type(self), self._values())

    @property
    def allows_refund(self) -> bool:
        return self.outcome in Outcome.REFUNDABLE and self.refund_amount is not None

    def as_dict(self) -> dict:
        """The simulator's output shape; also what a case stores as its decision snapshot."""
        return {
            "outcome": self.outcome,
            "refund_amount": None if self.refund_amount is None else f"{self.refund_amount:.2f}",
            "extension_days": self.extension_days,
            "currency": self.currency,
            "policy_version": self.policy_version,
            "clauses": list(self.clauses),
            "explanation": self.explanation,
            "arrival_business_days": None if self.arrival is None else self.arrival.as_dict(),
        }


_new_slots = object.__new__


# --- time and money helpers -------------------------------------------------------------


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months later, the day clamped to the month's end (Jan 31 + 1 month = Feb 28/29)."""
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def period_end(delivered_at: datetime, plan_months: int) -> datetime:
    """S1-PERIOD: the subscription runs ``plan_months`` calendar months from delivery.

    Counted in UTC so that the same instant always gives the same end, whatever offset it came in.
    """
    return add_months(delivered_at.astimezone(UTC), plan_months)


def prorated_amount(facts: Facts) -> Decimal:
    """docs/policies.md "Proration": any started day counts as used; rounded down to the cent."""
    if facts.delivered_at is None:
        return facts.price.quantize(CENT)
    delivered = facts.delivered_at.astimezone(UTC)
    total_days = (period_end(delivered, facts.plan_months) - delivered).days
    elapsed = facts.requested_at - facts.delivered_at
    # Integer arithmetic on timedeltas: a started day counts even when it is one microsecond old.
    used_days = max(-(-elapsed // timedelta(days=1)), 0)
    remaining = max(total_days - used_days, 0)
    amount = facts.price * remaining / total_days
    return amount.quantize(CENT, rounding=ROUND_DOWN)


def days_for_hours(hours: Decimal) -> int:
    """ceil(hours / 24), exact whatever the number of decimals (Decimal division would round first)."""
    whole = int(hours // 24)
    return whole + 1 if whole * 24 < hours else whole


def hours_between(start: datetime, end: datetime) -> Decimal:
    return Decimal((end - start) / timedelta(hours=1))


def outage_hours_bound(delivered_at: datetime | None, requested_at: datetime) -> Decimal:
    """The most outage a customer can have had: the time they had the service before asking.

    Never delivered, or delivered only after the request: no access to lose, so no outage.
    """
    if delivered_at is None or delivered_at >= requested_at:
        return Decimal(0)
    return hours_between(delivered_at, requested_at)


def outage_hours_problem(*, outage_hours: Decimal, delivered_at: datetime | None, requested_at: datetime) -> str | None:
    """Why ``outage_hours`` cannot be true for this order, or ``None``: the one wording of S0-OUTAGE's bound."""
    if outage_hours <= 0:
        return None
    if delivered_at is None:
        return "the order was never delivered, so it had no outage; give 0"
    bound = outage_hours_bound(delivered_at, requested_at)
    if outage_hours <= bound:
        return None
    shown = bound.quantize(Decimal("0.1"), rounding=ROUND_DOWN)
    return (
        f"{outage_hours.normalize():f} hours is more than the {shown:f} hours between the delivery "
        f"and the request"
    )


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:.2f} {currency}"


# --- the rules --------------------------------------------------------------------------


def decide(facts: Facts, policy: Policy) -> Decision:
    """Apply ``policy`` to ``facts``. The first rule that settles the case wins; see docs/policies.md."""
    rules = policy.rules
    remainder = facts.remainder
    reason = facts.reason

    # H-CAP: nothing left to refund on this order.
    if remainder <= ZERO:
        return _made(
            facts, rules, Outcome.DENY, None, ("H-CAP",),
            "Everything paid for this order has already been refunded, so no further refund is possible.",
        )

    # H-DUPLICATE: the customer was charged twice; refund the duplicate whatever the dates.
    if reason == "duplicate_payment":
        return _made(
            facts, rules, Outcome.FULL_REFUND, remainder, ("H-DUPLICATE",),
            "This order was a duplicate charge, so it is refunded in full.",
        )

    # S1-USED-ON-DELIVERY comes before S1-NOT-ELIGIBLE: the exclusions concern a delivered service,
    # so an order whose access details were not sent by the request is refunded whatever the reason.
    if policy.used_on_delivery:
        delivered_at = facts.delivered_at
        if delivered_at is None or delivered_at > facts.requested_at:
            return _made(
                facts, rules, Outcome.FULL_REFUND, remainder, rules.used_on_delivery,
                "The access details had not been sent when the refund was requested, so the service "
                "was never used and is refunded in full.",
            )

    excluding_clause = policy.exclusions.get(reason)
    if excluding_clause:
        return _made(
            facts, rules, Outcome.DENY, None, (excluding_clause,), _EXCLUSION_TEXT.get(reason, _EXCLUSION_DEFAULT)
        )

    guarantee = policy.outage_guarantee_hours
    if reason == "server_outage" and guarantee is not None:
        # Input is checked against this bound (facts_json, case services); the cap keeps a record
        # entered before the check, or an order whose delivery moved later, from buying extra days.
        # The bound is worked out only when the hours given are over the guarantee: under it, the
        # smaller of the two is too.
        if facts.outage_hours > guarantee:
            outage = min(facts.outage_hours, outage_hours_bound(facts.delivered_at, facts.requested_at))
            if outage > guarantee:
                lost_days = days_for_hours(outage)
                return _made(
                    facts, rules, Outcome.REFUND_OR_EXTENSION, remainder, rules.outage,
                    f"The service was unavailable for more than {guarantee} hours "
                    f"because of a server-side problem, so you may choose a full refund of "
                    f"{money(remainder, facts.currency)} or an extension of {lost_days} days plus a bonus period.",
                    lost_days,
                )
        if rules.short_outage:
            return _made(facts, rules, Outcome.DENY, None, rules.short_outage, rules.short_outage_text)

    if policy.used_on_delivery:
        if policy.discretion_after_delivery:
            return _made(
                facts, rules, Outcome.MANAGER_DISCRETION, remainder, rules.discretion,
                "The access details were already sent, so the service counts as used; a manager may "
                f"still grant a partial or full refund of up to {money(remainder, facts.currency)}.",
            )
        return _made(
            facts, rules, Outcome.DENY, None, rules.used_on_delivery,
            "The access details were already sent, so the service counts as used and is not refundable.",
        )

    fix_failed = False
    if reason == "technical_issue" and policy.fix_first:
        attempt = facts.fix_attempt
        if attempt is None:
            return _made(
                facts, rules, Outcome.NEEDS_FIX_ATTEMPT, None, rules.fix_first,
                "Technical issues are refunded only after our team has had the chance to fix them; "
                "a fix attempt must be started first.",
            )
        if attempt.outcome == "resolved":
            return _made(
                facts, rules, Outcome.RESOLVED, None, rules.fix_first,
                "The technical issue was resolved, so no refund is due.",
            )
        # S0-FIX-48H: at exactly 48 h the window has run out.
        window = policy.fix_window_hours
        if attempt.outcome == "pending" and (facts.as_of - attempt.started_at) / HOUR < window:
            ends = attempt.started_at + timedelta(hours=window)
            return _made(
                facts, rules, Outcome.AWAITING_FIX, None, rules.awaiting_fix,
                f"Our team has until {_moment(ends)} to resolve "
                f"the issue; if it is not resolved by then, a refund will be issued.",
            )
        fix_failed = True

    hours = policy.full_refund_window_hours
    if hours is not None:
        window = rules.window[fix_failed]
        if (facts.requested_at - facts.purchased_at) / HOUR <= hours:
            return _made(facts, rules, Outcome.FULL_REFUND, remainder, window.within_clauses, window.within_text)
        if policy.prorate_after_window:
            return _prorated(facts, rules, remainder, window.prorated_clauses, window.prorated_text)
        return _made(facts, rules, Outcome.DENY, None, window.within_clauses, window.late_text)

    if fix_failed:
        return _made(
            facts, rules, Outcome.FULL_REFUND, remainder, rules.fix_failed,
            "The issue could not be resolved in time, so it is refunded in full.",
        )

    # A version with no rule switched on still owes a citation: the cap is the one rule that bounds it.
    return _made(
        facts, rules, Outcome.MANAGER_DISCRETION, remainder, ("H-CAP",),
        "No clause of the policy settles this case; a manager decides, up to the refundable remainder.",
    )


# The elapsed times are compared as floats (timedelta / timedelta): a float compares exactly with
# the policy's whole hours, so this is the comparison of ``hours_between`` without its Decimal.

def _moment(moment: datetime) -> str:
    """A time as people read it, in UTC: "9 December 2026, 23:31 UTC"."""
    utc = moment.astimezone(UTC)
    return f"{utc.day} {utc:%B %Y, %H:%M} UTC"

HOUR = timedelta(hours=1)

_EXCLUSION_DEFAULT = "The refund policy does not cover this reason."
_EXCLUSION_TEXT = {
    "setup_difficulty": "The refund policy does not cover difficulties setting up your own device or system.",
    "intermittent_streams": "The refund policy does not cover channels that occasionally freeze, buffer or go offline.",
    "changed_mind": "The refund policy does not cover a change of mind.",
    "server_switch": "The refund policy does not cover requests to switch servers.",
    "adult_channels_missing": "Adult channels are not advertised, so their absence is not refundable.",
}


def _made(
    facts: Facts, rules: _Rules, outcome: str, amount: Decimal | None, clauses: tuple[str, ...], explanation: str,
    extension_days: int | None = None,
) -> Decision:
    """The decision, with the labels every one shares. A refund's amount is the remainder or less
    (H-CAP) by the callers' construction; money comes with the arrival window of its payment method."""
    arrival = None
    if amount is not None:
        method = facts.payment_method
        arrival = rules.arrival.get(method) or rules.policy.arrival_for(method)
    return Decision(outcome, amount, facts.currency, rules.version, clauses, explanation, extension_days, arrival)


def _prorated(facts: Facts, rules: _Rules, remainder: Decimal, clauses: tuple[str, ...], explanation: str):
    amount = prorated_amount(facts)
    currency = facts.currency
    if amount <= ZERO:  # H-FULL-LABEL: a prorated 0.00 is a denial under the prorating clause
        return _made(facts, rules, Outcome.DENY, None, clauses,
                     f"{explanation}, and nothing of it is left unused, so no refund is due.")
    if amount >= remainder:  # H-FULL-LABEL: the whole remainder is a full refund
        capped = ("H-CAP",) if amount > remainder else ()
        return _made(
            facts, rules, Outcome.FULL_REFUND, remainder, clauses + capped + ("H-FULL-LABEL",),
            f"{explanation}: {money(remainder, currency)}, the whole refundable amount.",
        )
    return _made(facts, rules, Outcome.PARTIAL_REFUND, amount, clauses, f"{explanation}: {money(amount, currency)}.")


class _Window:
    """S0-WINDOW / S0-PARTIAL as one policy words them, after a failed fix or not."""

    __slots__ = ("within_clauses", "within_text", "prorated_clauses", "prorated_text", "late_text")

    def __init__(self, policy: Policy, *, after_fix: tuple[str, ...]) -> None:
        hours = policy.full_refund_window_hours
        prefix = "The issue could not be resolved within the fix window, and the" if after_fix else "The"
        self.within_clauses = after_fix + (policy.clause("WINDOW"),)
        self.within_text = f"{prefix} refund was requested within {hours} hours of purchase, so it is refunded in full."
        self.prorated_clauses = after_fix + (policy.clause("PARTIAL"),)
        self.prorated_text = (
            f"{prefix} refund was requested more than {hours} hours after purchase, so it is "
            f"refunded for the unused part of the subscription"
        )
        self.late_text = f"Refunds must be requested within {hours} hours of purchase."


class _Rules:
    """A policy's clause citations and fixed wordings, built once per policy (``Policy.rules``), so
    that a decision only looks them up. Every rule itself is in :func:`decide`."""

    __slots__ = ("policy", "version", "arrival", "used_on_delivery", "discretion", "outage", "short_outage",
                 "short_outage_text", "fix_first", "awaiting_fix", "fix_failed", "window")

    def __init__(self, policy: Policy) -> None:
        clause = policy.clause
        self.policy = policy
        self.version = policy.version
        self.arrival = {method: policy.arrival_for(method) for method in PAYMENT_METHODS}
        self.used_on_delivery = (clause("USED-ON-DELIVERY"),)
        self.discretion = (clause("DISCRETION"), clause("USED-ON-DELIVERY"))
        self.outage = (clause("OUTAGE"),)
        self.short_outage = (policy.short_outage_clause,) if policy.short_outage_clause else ()
        self.short_outage_text = (
            f"Outages of {policy.outage_guarantee_hours} hours or less are treated as occasional "
            f"disruptions, which the policy does not refund."
        )
        self.fix_first = (clause("FIX-FIRST"),)
        self.awaiting_fix = (clause("FIX-48H"), clause("FIX-FIRST"))
        self.fix_failed = (clause("FIX-48H"),)
        self.window = {False: _Window(policy, after_fix=()), True: _Window(policy, after_fix=self.fix_failed)}


def add_business_days(start, days: int):
    """The date ``days`` business days (Monday to Friday) after ``start``."""
    current = start
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current
