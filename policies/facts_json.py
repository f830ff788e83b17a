"""Facts from the simulator's JSON (docs/simulator.md), validated key by key.

Pure: the storefront's policy is looked up by the caller; this module only checks shapes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from rules.engine import (
    FIX_OUTCOMES,
    PAYMENT_METHODS,
    PLAN_MONTHS,
    REASONS,
    Facts,
    FixAttempt,
    outage_hours_problem,
)


class FactsError(ValueError):
    """Bad input; the message names the key."""


# The order model's money field holds 12 digits, 2 of them decimals; larger prices cannot be real orders
# and would overflow the engine's 28-digit decimal arithmetic.
MAX_AMOUNT = Decimal("9999999999.99")
# The case model's outage field holds up to 999999.9 hours; beyond it ceil(hours / 24) is meaningless.
MAX_OUTAGE_HOURS = Decimal("999999.9")
# A subscription period of 12 months must still end before datetime's year 9999.
FIRST_YEAR, LAST_YEAR = 1900, 9998


def _require(obj: dict, key: str) -> Any:
    if key not in obj or obj[key] is None:
        raise FactsError(f"{key}: is required")
    return obj[key]


def parse_datetime_value(value: Any, key: str) -> datetime:
    if not isinstance(value, str):
        raise FactsError(f"{key}: expected an ISO 8601 datetime string with an offset")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FactsError(f"{key}: {value!r} is not an ISO 8601 datetime") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise FactsError(f"{key}: {value!r} has no UTC offset (e.g. add 'Z' or '+00:00')")
    try:
        year = moment.astimezone(UTC).year
    except OverflowError:
        year = 0
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise FactsError(f"{key}: {value!r} is outside the years {FIRST_YEAR}-{LAST_YEAR}")
    return moment


def parse_amount(value: Any, key: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise FactsError(f"{key}: expected a decimal string such as \"59.99\"")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise FactsError(f"{key}: {value!r} is not a decimal amount") from None
    if not amount.is_finite():
        raise FactsError(f"{key}: {value!r} is not a finite amount")
    if amount < 0:
        raise FactsError(f"{key}: must not be negative")
    if amount > MAX_AMOUNT:
        raise FactsError(f"{key}: {value!r} is more than {MAX_AMOUNT}")
    if amount != amount.quantize(Decimal("0.01")):
        raise FactsError(f"{key}: {value!r} has more than two decimal places")
    return amount.quantize(Decimal("0.01"))


def _choice(obj: dict, key: str, allowed: tuple) -> Any:
    value = _require(obj, key)
    if value not in allowed:
        raise FactsError(f"{key}: {value!r} is not one of {', '.join(map(str, allowed))}")
    return value


def _int(obj: dict, key: str, default: int | None = None) -> int:
    value = obj.get(key, default)
    if value is None:
        raise FactsError(f"{key}: is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise FactsError(f"{key}: expected a whole number")
    return value


def parse_facts(obj: Any, *, now: datetime) -> Facts:
    """Validate one simulator item; raise :class:`FactsError` naming the first bad key."""
    if not isinstance(obj, dict):
        raise FactsError("each case must be a JSON object")
    price = parse_amount(_require(obj, "price"), "price")
    currency = _require(obj, "currency")
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha() and currency.isupper()):
        raise FactsError(f"currency: {currency!r} is not an ISO 4217 code such as \"USD\"")
    payment_method = _choice(obj, "payment_method", PAYMENT_METHODS)
    plan_months = _int(obj, "plan_months")
    if plan_months not in PLAN_MONTHS:
        raise FactsError(f"plan_months: {plan_months} is not one of 1, 3, 6, 12")
    devices = _int(obj, "devices", 1)
    if devices < 1:
        raise FactsError("devices: must be 1 or more")
    purchased_at = parse_datetime_value(_require(obj, "purchased_at"), "purchased_at")
    delivered_raw = obj.get("delivered_at")
    delivered_at = None if delivered_raw is None else parse_datetime_value(delivered_raw, "delivered_at")
    if delivered_at is not None and delivered_at < purchased_at:
        raise FactsError("delivered_at: is before purchased_at")
    refunded = parse_amount(obj.get("refunded_so_far", "0.00"), "refunded_so_far")
    if refunded > price:
        raise FactsError("refunded_so_far: is more than the price")
    requested_at = parse_datetime_value(_require(obj, "requested_at"), "requested_at")
    if requested_at < purchased_at:
        raise FactsError("requested_at: is before purchased_at")
    reason = _choice(obj, "reason", REASONS)
    fix_attempt = _parse_fix_attempt(obj.get("fix_attempt"))
    outage_raw = obj.get("outage_hours", 0)
    if isinstance(outage_raw, bool) or not isinstance(outage_raw, (int, float, str)):
        raise FactsError("outage_hours: expected a number")
    try:
        outage_hours = Decimal(str(outage_raw))
    except InvalidOperation:
        raise FactsError(f"outage_hours: {outage_raw!r} is not a number") from None
    if not outage_hours.is_finite() or outage_hours < 0:
        raise FactsError("outage_hours: must be a number of hours, 0 or more")
    if outage_hours > MAX_OUTAGE_HOURS:
        raise FactsError(f"outage_hours: must be at most {MAX_OUTAGE_HOURS}")
    problem = outage_hours_problem(outage_hours=outage_hours, delivered_at=delivered_at, requested_at=requested_at)
    if problem:
        raise FactsError(f"outage_hours: {problem}")
    as_of_raw = obj.get("as_of")
    as_of = now if as_of_raw is None else parse_datetime_value(as_of_raw, "as_of")
    return Facts(
        price=price,
        currency=currency,
        payment_method=payment_method,
        plan_months=plan_months,
        devices=devices,
        purchased_at=purchased_at,
        delivered_at=delivered_at,
        refunded_so_far=refunded,
        requested_at=requested_at,
        reason=reason,
        fix_attempt=fix_attempt,
        outage_hours=outage_hours,
        as_of=as_of,
    )


def _parse_fix_attempt(value: Any) -> FixAttempt | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FactsError("fix_attempt: expected null or an object with started_at and outcome")
    started = parse_datetime_value(_require_in(value, "started_at"), "fix_attempt.started_at")
    outcome = value.get("outcome")
    if outcome not in FIX_OUTCOMES:
        raise FactsError(f"fix_attempt.outcome: {outcome!r} is not one of {', '.join(FIX_OUTCOMES)}")
    return FixAttempt(started_at=started, outcome=outcome)


def _require_in(obj: dict, key: str) -> Any:
    if obj.get(key) is None:
        raise FactsError(f"fix_attempt.{key}: is required")
    return obj[key]
