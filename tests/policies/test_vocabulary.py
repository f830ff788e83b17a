"""Reason codes, fix outcomes and money parsing: declared once, shared by the apps that need them."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from cases.states import FixOutcome, Reason
from rules.engine import FIX_OUTCOME_LABELS, FIX_OUTCOMES, REASON_LABELS, REASONS
from rules.money import MAX_MONEY, MoneyError, parse_money

ROOT = Path(__file__).resolve().parents[2]


def test_it_derives_the_reason_choices_from_the_engine():
    assert Reason.choices == list(REASON_LABELS.items())
    assert tuple(Reason.values) == REASONS
    assert Reason.NOT_DELIVERED == "not_delivered"
    assert Reason.NOT_DELIVERED.label == "Access never delivered"


def test_it_derives_the_fix_outcomes_from_the_engine():
    assert FixOutcome.choices == list(FIX_OUTCOME_LABELS.items())
    assert tuple(FixOutcome.values) == FIX_OUTCOMES
    assert FixOutcome.PENDING == "pending"


@pytest.mark.parametrize("text", ["abc", "0", "-1", "1.234", "1e30", "NaN", "Infinity", "", None,
                                  str(MAX_MONEY + Decimal("0.01"))])
def test_it_refuses_what_is_not_an_amount_of_money(text):
    with pytest.raises(MoneyError):
        parse_money(text)


def test_it_parses_an_amount_to_two_places():
    assert parse_money(" 59.9 ") == Decimal("59.90")
    assert parse_money(MAX_MONEY) == MAX_MONEY


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_it_keeps_the_rules_free_of_apps_and_the_database():
    """The engine, money parsing and case facts are pure: every app can use them, they use none."""
    apps = {"backoffice", "core", "orders", "policies", "cases", "portal", "mail", "reports", "shop"}
    for path in (ROOT / "rules").glob("*.py"):
        imported = _imported_modules(path)
        assert not {m for m in imported if m.split(".")[0] in apps}, path
        assert not {m for m in imported if m.startswith(("django.db", "django.apps"))}, path
