"""The engine decides as it did before its speed-up (docs/decisions/0029), over a frozen table.

``fixtures/engine_decisions.json`` holds 320 facts and the decision the engine of commit acaed5b
took on each, on the storefront named: at least eight of every outcome-and-clauses combination
that a few hundred thousand generated facts reach (this suite's property strategies first: the
48 h edges, month ends, time zones, fully refunded orders), the rest drawn at random. It was
written once by that older engine and is not regenerated: a change of any decision is a change
of policy, and shows here first.
"""

from __future__ import annotations

import importlib
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from orders.models import Storefront
from policies.models import PolicyVersion
from rules.engine import Facts, FixAttempt, Policy, decide

TABLE = json.loads((Path(__file__).parent / "fixtures" / "engine_decisions.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def shipped() -> dict[str, Policy]:
    """The shipped policies, from the data migration's own data (no database)."""
    shipped_data = importlib.import_module("policies.migrations.0002_shipped_policies")
    policies = {}
    for data in shipped_data.VERSIONS:
        fields = {key: value for key, value in data.items() if key != "storefront"}
        policies[data["storefront"]] = PolicyVersion(storefront=Storefront(slug=data["storefront"]), **fields).to_policy()
    return policies


def facts_of(row: dict) -> Facts:
    def moment(value: str | None) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)

    fix = row["fix_attempt"]
    return Facts(
        price=Decimal(row["price"]),
        currency=row["currency"],
        payment_method=row["payment_method"],
        plan_months=row["plan_months"],
        devices=row["devices"],
        purchased_at=moment(row["purchased_at"]),
        delivered_at=moment(row["delivered_at"]),
        refunded_so_far=Decimal(row["refunded_so_far"]),
        requested_at=moment(row["requested_at"]),
        reason=row["reason"],
        fix_attempt=None if fix is None else FixAttempt(started_at=moment(fix["started_at"]), outcome=fix["outcome"]),
        outage_hours=Decimal(row["outage_hours"]),
        as_of=moment(row["as_of"]),
    )


def test_it_covers_every_outcome_on_both_storefronts():
    outcomes = {(row["storefront"], row["decision"]["outcome"]) for row in TABLE}

    assert {outcome for slug, outcome in outcomes if slug == "iptv-smarters-pro"} == {
        "full_refund", "partial_refund", "refund_or_extension", "deny", "needs_fix_attempt", "awaiting_fix",
        "resolved"}
    assert {outcome for slug, outcome in outcomes if slug == "smarters-pro"} == {
        "full_refund", "manager_discretion", "deny"}


@pytest.mark.parametrize("row", TABLE, ids=lambda row: f"{row['storefront']}-{row['decision']['outcome']}")
def test_it_takes_the_same_decision_as_before(shipped, row):
    decision = decide(facts_of(row["facts"]), shipped[row["storefront"]])

    assert decision.as_dict() == row["decision"]
    assert (None if decision.refund_amount is None else str(decision.refund_amount)) == row["refund_amount_exact"]
