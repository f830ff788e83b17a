"""Parsing amounts of money typed by people, shared by the order and case services.

It lives beside the pure policy engine, below every app, so any of them can read a number.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from rules.engine import CENT

MAX_MONEY = Decimal("9999999999.99")  # orders.models.MONEY: 12 digits, 2 decimals


class MoneyError(ValueError):
    """Not a positive amount of at most two decimals that the money columns can hold."""


def parse_money(value) -> Decimal:
    """A positive amount of at most two decimals that the money columns can hold."""
    try:
        amount = Decimal(str(value).strip())
        # quantize() itself raises InvalidOperation for huge exponents such as "1e30".
        valid = amount.is_finite() and 0 < amount <= MAX_MONEY and amount == amount.quantize(CENT)
    except (InvalidOperation, ValueError):
        valid = False
    if not valid:
        raise MoneyError(f"{value!r} is not an amount of money")
    return amount.quantize(CENT)
