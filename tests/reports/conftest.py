"""Cases in every state, plans with product ids, and a manager's and an agent's admin client."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from cases.states import State
from orders.models import Plan
from tests.admin.conftest import client_for
from tests.cases import drive, open_case

CONTRACT_HEADER = (
    "case_number, storefront, order_number, customer_email, plan_months, devices, amount_paid, currency, "
    "reason, channel, state, requested_at, first_response_at, decided_at, outcome, clauses, policy_version, "
    "approved_amount, paid_amount, paid_at, payout_method, days_to_decision, deadline_met, assignee, "
    "statutory_override"
).split(", ")


def parse_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.fixture
def cases_by_state(s0, agent, manager) -> dict:
    """One case on iptv-smarters-pro in each of the eight states, driven by the services."""
    cases = {}
    for state in State.values:
        reason = "technical_issue" if state in (State.AWAITING_FIX, State.RESOLVED) else "other"
        case = open_case(s0, reason=reason)
        cases[state] = drive(case, state, agent=agent, manager=manager)
    return cases


@pytest.fixture
def plans(s0, s1) -> dict[str, Plan]:
    """iptv-smarters-pro's plans; two carry the shop's product ids, the others are matched by name."""
    def plan(storefront, months, devices, price, product=""):
        return Plan.objects.create(storefront=storefront, name=f"{months} months", months=months, devices=devices,
                                   price=Decimal(price), external_product_id=product)

    return {
        "1m": plan(s0, 1, 1, "14.99", "11"),
        "3m": plan(s0, 3, 1, "34.99", "93"),
        "6m": plan(s0, 6, 1, "54.99"),
        "12m3d": plan(s0, 12, 3, "129.99", "41"),
        "other-shop-1m": plan(s1, 1, 1, "9.99", "11-s1"),
    }


@pytest.fixture
def manager_client(manager):
    return client_for(manager)


@pytest.fixture
def agent_client(agent):
    return client_for(agent)
