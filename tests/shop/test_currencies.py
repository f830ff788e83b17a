"""Amounts in the currency's own decimals (ISO 4217), as shops and processors take them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shop.currencies import NotInCurrency, amount_text, minor_units


@pytest.mark.parametrize(("amount", "currency", "text", "minor"), [
    ("34.99", "USD", "34.99", 3499), ("34.90", "EUR", "34.90", 3490), ("1250.00", "JPY", "1250", 1250),
    ("12.50", "KWD", "12.500", 12500), ("7", "usd", "7.00", 700), ("0.01", "GBP", "0.01", 1),
])
def test_it_writes_an_amount_in_the_currencys_decimals(amount, currency, text, minor):
    assert amount_text(Decimal(amount), currency) == text
    assert minor_units(Decimal(amount), currency) == minor


def test_it_refuses_an_amount_finer_than_the_currency_rather_than_round_it():
    with pytest.raises(NotInCurrency) as refused:
        amount_text(Decimal("1250.50"), "JPY")
    assert str(refused.value) == "1250.50 JPY is not a whole number of JPY's smallest unit (0 decimals)"
