"""Readings of the policy made precise: the outage bound, delivery before exclusions, and the boundaries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules.engine import decide
from tests.conftest import at
from tests.policies.conftest import make_facts
from tests.policies.test_simulate_refund_command import case, simulate

# --- S0-OUTAGE: outage hours are bounded by the time the customer had the service -----------


def test_it_rejects_more_outage_hours_than_between_delivery_and_request_in_the_simulator(db, tmp_path):
    """Bought 20 minutes before the request: 10,000 outage hours cannot be true (was 417 days of extension)."""
    item = case(reason="server_outage", purchased_at="2026-01-02T09:40:00Z", delivered_at="2026-01-02T09:45:00Z",
                requested_at="2026-01-02T10:00:00Z", outage_hours=10000)
    result, status = simulate(tmp_path, item)
    assert status == 1
    assert set(result) == {"error"}
    assert result["error"].startswith("outage_hours: ")
    assert "0.2 hours between the delivery and the request" in result["error"]


def test_it_accepts_outage_hours_up_to_the_time_since_delivery_in_the_simulator(db, tmp_path):
    """Exactly the hours between delivery and request is the most there can have been."""
    item = case(reason="server_outage", delivered_at="2026-01-01T10:00:00Z", requested_at="2026-01-04T10:00:00Z",
                outage_hours=72)
    result, status = simulate(tmp_path, item)
    assert status == 0, result
    assert (result["outcome"], result["extension_days"]) == ("refund_or_extension", 3)

    result, status = simulate(tmp_path, {**item, "outage_hours": 72.1})
    assert status == 1
    assert result["error"].startswith("outage_hours: ")


def test_it_rejects_any_outage_on_a_never_delivered_order_in_the_simulator(db, tmp_path):
    result, status = simulate(tmp_path, case(reason="server_outage", delivered_at=None, outage_hours=1))
    assert status == 1
    assert result == {"error": "outage_hours: the order was never delivered, so it had no outage; give 0"}

    result, status = simulate(tmp_path, case(reason="server_outage", delivered_at=None, outage_hours=0))
    assert status == 0, result


def test_it_caps_the_outage_at_the_time_since_delivery_in_the_engine_s0_outage(p0):
    """Facts that bypass validation (a record older than the check) still cannot buy days the customer never had."""
    facts = make_facts(reason="server_outage", delivered_at=at("2026-01-01 10:00"),
                       requested_at=at("2026-01-04 10:00"), outage_hours="10000")
    decision = decide(facts, p0)
    assert decision.outcome == "refund_or_extension"
    assert decision.extension_days == 3  # 72 h since delivery, not ceil(10000 / 24) = 417


# --- S1-USED-ON-DELIVERY comes before S1-NOT-ELIGIBLE --------------------------------------


@pytest.mark.parametrize("reason", ["changed_mind", "server_switch", "setup_difficulty", "other"])
def test_it_refunds_a_never_delivered_order_in_full_whatever_the_reason_s1_used_on_delivery(p1, reason):
    decision = decide(make_facts(price="49.99", reason=reason, delivered_at=None), p1)
    assert decision.outcome == "full_refund"
    assert str(decision.refund_amount) == "49.99"
    assert decision.clauses == ("S1-USED-ON-DELIVERY",)


def test_it_refunds_a_never_delivered_change_of_mind_through_the_simulator_s1_used_on_delivery(db, tmp_path):
    result, status = simulate(tmp_path, case(storefront="smarters-pro", reason="changed_mind", delivered_at=None))
    assert status == 0, result
    assert (result["outcome"], result["refund_amount"], result["clauses"]) == (
        "full_refund", "59.99", ["S1-USED-ON-DELIVERY"])

    delivered, _ = simulate(tmp_path, case(storefront="smarters-pro", reason="changed_mind"))
    assert (delivered["outcome"], delivered["clauses"]) == ("deny", ["S1-NOT-ELIGIBLE"])


# --- boundaries ---------------------------------------------------------------------------


def test_it_counts_a_delivery_at_the_instant_of_the_request_as_delivered_s1_used_on_delivery(p1):
    """Delivered exactly when the customer asked: the service counts as used (``<=``, not ``<``)."""
    moment = at("2026-01-01 10:05")
    at_once = decide(make_facts(reason="other", delivered_at=moment, requested_at=moment), p1)
    assert at_once.outcome == "manager_discretion"
    assert at_once.clauses == ("S1-DISCRETION", "S1-USED-ON-DELIVERY")

    just_after = decide(make_facts(reason="other", delivered_at=moment + timedelta(microseconds=1),
                                   requested_at=moment), p1)
    assert just_after.outcome == "full_refund"
    assert just_after.clauses == ("S1-USED-ON-DELIVERY",)


def test_it_applies_the_exclusions_to_an_order_delivered_at_the_instant_of_the_request_s1_not_eligible(p1):
    moment = at("2026-01-01 10:05")
    decision = decide(make_facts(reason="changed_mind", delivered_at=moment, requested_at=moment), p1)
    assert (decision.outcome, decision.clauses) == ("deny", ("S1-NOT-ELIGIBLE",))
