"""Amounts as a shop or a processor takes them: in the currency's own decimals (ISO 4217)."""

from __future__ import annotations

from decimal import Decimal

# ISO 4217 minor units other than two (active currencies). Anything not listed has two.
EXPONENTS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV",
                     "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}


class NotInCurrency(ValueError):
    """An amount finer than its currency's smallest unit (0.50 JPY): it is refused, never rounded."""


def exponent(currency: str) -> int:
    return EXPONENTS.get(currency.upper(), 2)


def amount_text(amount: Decimal, currency: str) -> str:
    """``amount`` written with the currency's decimals: "34.99" USD, "1250" JPY, "12.500" KWD."""
    places = exponent(currency)
    quantum = Decimal(1).scaleb(-places)
    exact = amount.quantize(quantum)
    if exact != amount:
        raise NotInCurrency(f"{amount} {currency} is not a whole number of {currency}'s smallest unit "
                            f"({places} decimal{'s' if places != 1 else ''})")
    return f"{exact:.{places}f}"


def minor_units(amount: Decimal, currency: str) -> int:
    """``amount`` in the currency's smallest unit, as Stripe takes it: 3499 for 34.99 USD, 1250 for 1250 JPY."""
    return int(Decimal(amount_text(amount, currency)).scaleb(exponent(currency)))
