"""Storefront iptv-smarters-pro (docs/policies.md file 000) through the engine, clause by clause."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal

import pytest

from rules.engine import decide
from tests.conftest import at
from tests.policies.conftest import PURCHASED, make_facts

CENT = Decimal("0.01")
DELIVERED = at("2026-01-01 10:05")  # make_facts' default: five minutes after the purchase


def by_hand(price: str, *, delivered: datetime, period_end: datetime, requested: datetime) -> Decimal:
    """docs/policies.md "Proration", step by step, with the period end written out by the test."""
    total_days = (period_end - delivered).days
    used_days = max(math.ceil((requested - delivered).total_seconds() / 86400), 0)
    remaining = max(total_days - used_days, 0)
    return (Decimal(price) * remaining / total_days).quantize(CENT, rounding=ROUND_DOWN)


# --- S0-WINDOW ---------------------------------------------------------------------------


@pytest.mark.clause("S0-WINDOW")
def test_it_refunds_in_full_exactly_48_hours_after_purchase_s0_window(p0):
    """S0-WINDOW: the limit is inclusive."""
    decision = decide(make_facts(price="59.99", requested_at=PURCHASED + timedelta(hours=48)), p0)
    assert decision.outcome == "full_refund"
    assert decision.refund_amount == Decimal("59.99")
    assert decision.clauses == ("S0-WINDOW",)
    assert decision.policy_version == "1"


@pytest.mark.clause("S0-WINDOW", "S0-PARTIAL")
def test_it_prorates_one_second_after_the_48_hours_s0_window_s0_partial(p0):
    """S0-WINDOW / S0-PARTIAL: 48 h + 1 s is past the window."""
    requested = PURCHASED + timedelta(hours=48, seconds=1)
    decision = decide(make_facts(price="59.99", requested_at=requested), p0)
    total_days = 31  # 2026-01-01 10:05 → 2026-02-01 10:05
    used_days = 2  # 1 d 23 h 55 min 1 s since delivery: two started days
    remaining = total_days - used_days
    expected = (Decimal("59.99") * remaining / total_days).quantize(CENT, rounding=ROUND_DOWN)
    assert expected == Decimal("56.11")  # 56.1196…: rounding half-up would give 56.12
    assert decision.outcome == "partial_refund"
    assert decision.refund_amount == expected
    assert decision.clauses == ("S0-PARTIAL",)


@pytest.mark.clause("S0-WINDOW")
def test_it_measures_the_window_between_instants_whatever_the_offsets_s0_window(p0):
    """S0-WINDOW: 12:00 at +02:00 two days later is exactly 48 h after 10:00 UTC."""
    requested = datetime(2026, 1, 3, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert decide(make_facts(requested_at=requested), p0).outcome == "full_refund"
    later = datetime(2026, 1, 3, 12, 0, 1, tzinfo=timezone(timedelta(hours=2)))
    assert decide(make_facts(requested_at=later), p0).outcome == "partial_refund"


# --- S0-PARTIAL --------------------------------------------------------------------------


@pytest.mark.clause("S0-PARTIAL")
def test_it_counts_every_started_day_as_used_s0_partial(p0):
    """S0-PARTIAL: exactly 3 days used → 3; one second more → 4."""
    price = Decimal("31.00")
    exact = decide(make_facts(price="31.00", requested_at=DELIVERED + timedelta(days=3)), p0)
    assert exact.refund_amount == (price * (31 - 3) / 31).quantize(CENT, rounding=ROUND_DOWN) == Decimal("28.00")
    started = decide(make_facts(price="31.00", requested_at=DELIVERED + timedelta(days=3, seconds=1)), p0)
    assert started.refund_amount == (price * (31 - 4) / 31).quantize(CENT, rounding=ROUND_DOWN) == Decimal("27.00")


@pytest.mark.clause("S0-PARTIAL")
def test_it_rounds_the_prorated_amount_down_to_the_cent_s0_partial(p0):
    """S0-PARTIAL: 11.00 × 28 / 31 = 9.935…, paid as 9.93, never 9.94."""
    decision = decide(make_facts(price="11.00", requested_at=DELIVERED + timedelta(hours=60)), p0)
    total_days, used_days = 31, 3  # 60 h = 2.5 days → 3 started days
    assert used_days == math.ceil(60 / 24)
    assert decision.refund_amount == Decimal("9.93")
    assert decision.refund_amount == (Decimal("11.00") * (total_days - used_days) / total_days).quantize(
        CENT, rounding=ROUND_DOWN
    )


@pytest.mark.clause("S0-PARTIAL", "S1-PERIOD")
@pytest.mark.parametrize(
    ("delivered", "period_end", "total_days"),
    [
        (at("2026-01-31 10:00"), at("2026-02-28 10:00"), 28),  # Jan 31 + 1 month clamps to Feb 28
        (at("2028-01-31 10:00"), at("2028-02-29 10:00"), 29),  # leap year: Feb 29
        (at("2026-03-31 10:00"), at("2026-04-30 10:00"), 30),
    ],
)
def test_it_clamps_the_period_to_the_end_of_the_month_s0_partial(p0, delivered, period_end, total_days):
    """S0-PARTIAL / S1-PERIOD: the subscription period of a 1-month plan delivered on the 31st."""
    assert (period_end - delivered).days == total_days
    requested = delivered + timedelta(days=10)  # 10 days used
    facts = make_facts(price="30.00", purchased_at=delivered, delivered_at=delivered, requested_at=requested)
    decision = decide(facts, p0)
    expected = (Decimal("30.00") * (total_days - 10) / total_days).quantize(CENT, rounding=ROUND_DOWN)
    assert decision.outcome == "partial_refund"
    assert decision.refund_amount == expected
    assert decision.refund_amount == by_hand("30.00", delivered=delivered, period_end=period_end, requested=requested)


@pytest.mark.clause("S0-PARTIAL", "S1-PERIOD")
def test_it_counts_the_period_in_utc_whatever_the_delivery_offset_s0_partial(p0):
    """S0-PARTIAL / S1-PERIOD: 2026-03-01 02:00 at +05:00 is Feb 28 21:00 UTC, so a 1-month period has
    28 days (Feb 28 → Mar 28 in UTC), not the 31 of Mar 1 → Apr 1 in the customer's zone."""
    delivered = datetime(2026, 3, 1, 2, 0, tzinfo=timezone(timedelta(hours=5)))
    requested = delivered + timedelta(days=7)
    facts = make_facts(price="28.00", purchased_at=delivered, delivered_at=delivered, requested_at=requested)
    decision = decide(facts, p0)
    total_days = (at("2026-03-28 21:00") - at("2026-02-28 21:00")).days
    assert total_days == 28
    assert decision.refund_amount == Decimal("28.00") * (total_days - 7) / total_days == Decimal("21.00")


@pytest.mark.clause("S0-PARTIAL")
def test_it_clamps_a_three_month_period_ending_in_february_s0_partial(p0):
    """S0-PARTIAL: Nov 30 + 3 months = Feb 28 (30 + 31 + 29 = 90 days)."""
    delivered = at("2026-11-30 10:00")
    requested = delivered + timedelta(days=5)
    facts = make_facts(price="90.00", plan_months=3, purchased_at=delivered, delivered_at=delivered,
                       requested_at=requested)
    assert decide(facts, p0).refund_amount == Decimal("90.00") * (90 - 5) / 90 == Decimal("85.00")


@pytest.mark.clause("S0-PARTIAL")
@pytest.mark.parametrize(
    ("plan_months", "period_end"),
    [
        (1, at("2026-02-01 10:05")),
        (3, at("2026-04-01 10:05")),
        (6, at("2026-07-01 10:05")),
        (12, at("2027-01-01 10:05")),
    ],
)
def test_it_prorates_over_the_plan_length_s0_partial(p0, plan_months, period_end):
    """S0-PARTIAL: 1, 3, 6 and 12-month plans; total_days = 31, 90, 181, 365."""
    requested = DELIVERED + timedelta(days=20, hours=3)  # 21 started days
    decision = decide(make_facts(price="119.99", plan_months=plan_months, requested_at=requested), p0)
    total_days = (period_end - DELIVERED).days
    assert total_days == {1: 31, 3: 90, 6: 181, 12: 365}[plan_months]
    expected = (Decimal("119.99") * (total_days - 21) / total_days).quantize(CENT, rounding=ROUND_DOWN)
    assert decision.outcome == "partial_refund"
    assert decision.refund_amount == expected
    assert decision.refund_amount == by_hand("119.99", delivered=DELIVERED, period_end=period_end, requested=requested)


@pytest.mark.clause("S0-PARTIAL", "H-FULL-LABEL")
def test_it_refunds_the_whole_price_when_never_delivered_s0_partial(p0):
    """S0-PARTIAL: never delivered → nothing used → the whole price (H-FULL-LABEL: a full refund)."""
    decision = decide(make_facts(price="59.99", delivered_at=None, requested_at=at("2026-03-01 10:00")), p0)
    assert decision.outcome == "full_refund"
    assert decision.refund_amount == Decimal("59.99")
    assert decision.clauses[0] == "S0-PARTIAL"
    assert "H-FULL-LABEL" in decision.clauses


@pytest.mark.clause("S0-PARTIAL", "H-FULL-LABEL")
def test_it_counts_nothing_used_when_the_request_came_before_delivery_s0_partial(p0):
    """S0-PARTIAL: used_days is at least 0, so a request before delivery refunds the whole price."""
    facts = make_facts(price="59.99", delivered_at=at("2026-01-10 10:00"), requested_at=at("2026-01-05 10:00"))
    decision = decide(facts, p0)
    assert decision.outcome == "full_refund"
    assert decision.refund_amount == Decimal("59.99")
    assert decision.clauses == ("S0-PARTIAL", "H-FULL-LABEL")


@pytest.mark.clause("H-FULL-LABEL", "S0-PARTIAL")
def test_it_denies_under_s0_partial_once_the_period_is_used_up_h_full_label(p0):
    """H-FULL-LABEL / S0-PARTIAL: remaining = max(31 − 32, 0) = 0 → 0.00 → a denial citing S0-PARTIAL."""
    decision = decide(make_facts(requested_at=DELIVERED + timedelta(days=31, seconds=1)), p0)
    assert decision.outcome == "deny"
    assert decision.refund_amount is None
    assert decision.arrival is None
    assert decision.clauses == ("S0-PARTIAL",)


@pytest.mark.clause("H-FULL-LABEL", "S0-PARTIAL")
def test_it_denies_a_prorated_amount_that_rounds_to_zero_h_full_label(p0):
    """H-FULL-LABEL: 0.10 × 1 / 31 = 0.0032 → 0.00 → denied under S0-PARTIAL, not a 0.00 refund."""
    requested = DELIVERED + timedelta(days=30)  # 30 of 31 days used
    assert (Decimal("0.10") * 1 / 31).quantize(CENT, rounding=ROUND_DOWN) == Decimal("0.00")
    decision = decide(make_facts(price="0.10", requested_at=requested), p0)
    assert decision.outcome == "deny"
    assert decision.clauses == ("S0-PARTIAL",)


@pytest.mark.clause("H-FULL-LABEL", "S0-PARTIAL")
def test_it_reports_a_prorated_amount_equal_to_the_remainder_as_full_h_full_label(p0):
    """H-FULL-LABEL: 31.00 × 29 / 31 = 29.00 = 31.00 − 2.00 already refunded."""
    requested = PURCHASED + timedelta(hours=48, seconds=1)  # 1 d 23 h 55 min 1 s: 2 started days
    decision = decide(make_facts(price="31.00", refunded="2.00", requested_at=requested), p0)
    assert decision.outcome == "full_refund"
    assert decision.refund_amount == Decimal("29.00")
    assert decision.clauses == ("S0-PARTIAL", "H-FULL-LABEL")


# --- S0-FIX-FIRST / S0-FIX-48H -----------------------------------------------------------


@pytest.mark.clause("S0-FIX-FIRST")
def test_it_needs_a_fix_attempt_before_refunding_a_technical_issue_s0_fix_first(p0):
    """S0-FIX-FIRST: no attempt → needs_fix_attempt, even inside the 48 h purchase window."""
    decision = decide(make_facts(reason="technical_issue", requested_at=at("2026-01-01 12:00")), p0)
    assert decision.outcome == "needs_fix_attempt"
    assert decision.refund_amount is None
    assert decision.arrival is None
    assert decision.clauses == ("S0-FIX-FIRST",)


@pytest.mark.clause("S0-FIX-48H", "S0-FIX-FIRST")
def test_it_waits_while_a_fix_attempt_is_pending_up_to_48_hours_s0_fix_48h(p0):
    """S0-FIX-48H: pending and a microsecond short of 48 h old → still awaiting the fix."""
    started = at("2026-01-01 12:00")
    facts = make_facts(reason="technical_issue", requested_at=at("2026-01-01 11:00"), fix=(started, "pending"),
                       as_of=started + timedelta(hours=48) - timedelta(microseconds=1))
    decision = decide(facts, p0)
    assert decision.outcome == "awaiting_fix"
    assert decision.refund_amount is None
    assert decision.clauses == ("S0-FIX-48H", "S0-FIX-FIRST")
    assert "until 3 January 2026, 12:00 UTC" in decision.explanation


@pytest.mark.clause("S0-FIX-48H", "S0-WINDOW")
def test_it_refunds_in_full_when_a_pending_fix_runs_out_and_the_request_was_in_the_window_s0_fix_48h(p0):
    """S0-FIX-48H: pending for 48 h + 1 s → refund; requested within 48 h of purchase → full."""
    started = at("2026-01-01 12:00")
    facts = make_facts(price="59.99", reason="technical_issue", requested_at=at("2026-01-01 11:00"),
                       fix=(started, "pending"), as_of=started + timedelta(hours=48, seconds=1))
    decision = decide(facts, p0)
    assert decision.outcome == "full_refund"
    assert decision.refund_amount == Decimal("59.99")
    assert decision.clauses == ("S0-FIX-48H", "S0-WINDOW")


@pytest.mark.clause("S0-FIX-48H", "S0-WINDOW")
def test_it_counts_the_fix_window_as_run_out_at_exactly_48_hours_s0_fix_48h(p0):
    """S0-FIX-48H reading: at exactly 48 h after the attempt started, the window has run out."""
    started = at("2026-01-01 12:00")
    facts = make_facts(price="59.99", reason="technical_issue", requested_at=at("2026-01-01 11:00"),
                       fix=(started, "pending"), as_of=started + timedelta(hours=48))
    decision = decide(facts, p0)
    assert decision.outcome == "full_refund"
    assert decision.refund_amount == Decimal("59.99")
    assert decision.clauses == ("S0-FIX-48H", "S0-WINDOW")


@pytest.mark.clause("S0-FIX-48H", "S0-WINDOW")
def test_it_refunds_in_full_when_the_fix_failed_and_the_request_was_in_the_window_s0_fix_48h(p0):
    """S0-FIX-48H: unresolved, request 48 h after purchase (inclusive) → full refund."""
    facts = make_facts(price="59.99", reason="technical_issue", requested_at=PURCHASED + timedelta(hours=48),
                       fix=(at("2026-01-03 11:00"), "unresolved"), as_of=at("2026-01-03 12:00"))
    decision = decide(facts, p0)
    assert decision.outcome == "full_refund"
    assert decision.refund_amount == Decimal("59.99")
    assert decision.clauses == ("S0-FIX-48H", "S0-WINDOW")


@pytest.mark.clause("S0-FIX-48H", "S0-PARTIAL")
def test_it_prorates_when_the_fix_failed_and_the_request_came_after_the_window_s0_fix_48h(p0):
    """S0-FIX-48H reading: a request after the 48 h purchase window is prorated (S0-PARTIAL)."""
    requested = at("2026-01-06 09:00")  # 4 d 22 h 55 min after delivery: 5 started days
    facts = make_facts(price="59.99", reason="technical_issue", requested_at=requested,
                       fix=(at("2026-01-06 10:00"), "unresolved"), as_of=at("2026-01-06 11:00"))
    decision = decide(facts, p0)
    total_days, used_days = 31, 5
    expected = (Decimal("59.99") * (total_days - used_days) / total_days).quantize(CENT, rounding=ROUND_DOWN)
    assert expected == Decimal("50.31")
    assert decision.outcome == "partial_refund"
    assert decision.refund_amount == expected
    assert decision.clauses == ("S0-FIX-48H", "S0-PARTIAL")


@pytest.mark.clause("S0-FIX-48H", "S0-PARTIAL")
def test_it_prorates_when_a_pending_fix_ran_out_after_the_window_s0_fix_48h(p0):
    """S0-FIX-48H: pending past 48 h counts as unresolved; the late request is prorated."""
    requested = at("2026-01-11 10:05")  # exactly 10 days after delivery
    started = at("2026-01-11 11:00")
    facts = make_facts(price="62.00", reason="technical_issue", requested_at=requested, fix=(started, "pending"),
                       as_of=started + timedelta(hours=49))
    decision = decide(facts, p0)
    assert decision.outcome == "partial_refund"
    assert decision.refund_amount == Decimal("62.00") * (31 - 10) / 31 == Decimal("42.00")
    assert decision.clauses == ("S0-FIX-48H", "S0-PARTIAL")


@pytest.mark.clause("S0-FIX-48H", "S0-FIX-FIRST")
def test_it_refunds_nothing_once_the_issue_is_resolved_s0_fix_48h(p0):
    """S0-FIX-48H / S0-FIX-FIRST: a resolved fix leaves nothing to refund."""
    facts = make_facts(reason="technical_issue", requested_at=at("2026-01-01 11:00"),
                       fix=(at("2026-01-01 12:00"), "resolved"), as_of=at("2026-01-01 13:00"))
    decision = decide(facts, p0)
    assert decision.outcome == "resolved"
    assert decision.refund_amount is None
    assert decision.arrival is None
    assert decision.clauses == ("S0-FIX-FIRST",)


# --- exclusions --------------------------------------------------------------------------


@pytest.mark.clause("S0-NO-SETUP", "S0-NO-INTERMITTENT", "S0-NO-CHANGE", "S0-NO-ADULT")
@pytest.mark.parametrize(
    ("reason", "clause"),
    [
        ("setup_difficulty", "S0-NO-SETUP"),
        ("intermittent_streams", "S0-NO-INTERMITTENT"),
        ("changed_mind", "S0-NO-CHANGE"),
        ("server_switch", "S0-NO-CHANGE"),
        ("adult_channels_missing", "S0-NO-ADULT"),
    ],
)
def test_it_denies_the_excluded_reasons_even_inside_the_window_s0_no(p0, reason, clause):
    """S0-NO-SETUP, S0-NO-INTERMITTENT, S0-NO-CHANGE, S0-NO-ADULT: denied within 48 h too."""
    decision = decide(make_facts(reason=reason, requested_at=at("2026-01-01 11:00")), p0)
    assert decision.outcome == "deny"
    assert decision.refund_amount is None
    assert decision.arrival is None
    assert decision.extension_days is None
    assert decision.clauses == (clause,)
    assert decision.explanation


@pytest.mark.clause("S0-NO-INTERMITTENT")
@pytest.mark.parametrize("outage_hours", ["0", "1", "47.9", "48"])
def test_it_denies_a_server_outage_of_48_hours_or_less_s0_no_intermittent(p0, outage_hours):
    """S0-NO-INTERMITTENT: a server outage up to 48 h is "rarely goes offline"."""
    facts = make_facts(reason="server_outage", outage_hours=outage_hours, requested_at=at("2026-01-01 11:00"))
    decision = decide(facts, p0)
    assert decision.outcome == "deny"
    assert decision.clauses == ("S0-NO-INTERMITTENT",)
    assert decision.extension_days is None


# --- S0-OUTAGE ---------------------------------------------------------------------------


@pytest.mark.clause("S0-OUTAGE")
@pytest.mark.parametrize(("outage_hours", "days"), [("48.1", 3), ("72", 3), ("72.5", 4), ("73", 4), ("500", 21)])
def test_it_offers_a_refund_or_an_extension_after_a_long_outage_s0_outage(p0, outage_hours, days):
    """S0-OUTAGE: outage > 48 h → refund_or_extension; extension_days = ceil(outage_hours / 24)."""
    assert days == math.ceil(float(outage_hours) / 24)
    # Requested 23 days after delivery: room for every outage of the table (it cannot be longer).
    facts = make_facts(price="59.99", reason="server_outage", outage_hours=outage_hours,
                       requested_at=at("2026-01-24 10:00"))
    decision = decide(facts, p0)
    assert decision.outcome == "refund_or_extension"
    assert decision.refund_amount == Decimal("59.99")
    assert decision.extension_days == days
    assert decision.clauses == ("S0-OUTAGE",)


@pytest.mark.clause("S0-OUTAGE")
def test_it_counts_a_started_day_of_outage_however_small_s0_outage(p0):
    """S0-OUTAGE: 48 h plus a tiny fraction of an hour is 3 lost days, not 2."""
    facts = make_facts(reason="server_outage", outage_hours="48.00000000000000000000000000001",
                       requested_at=at("2026-01-05 10:00"))
    assert decide(facts, p0).extension_days == 3


@pytest.mark.clause("S0-OUTAGE")
def test_it_offers_the_full_remainder_after_an_outage_whatever_the_purchase_date_s0_outage(p0):
    """S0-OUTAGE: full refund whatever the purchase date: no proration even past the period end."""
    facts = make_facts(price="59.99", refunded="9.99", reason="server_outage", outage_hours="96",
                       requested_at=at("2026-04-01 10:00"))
    decision = decide(facts, p0)
    assert decision.outcome == "refund_or_extension"
    assert decision.refund_amount == Decimal("50.00")
    assert decision.extension_days == 4


# --- S0-ARRIVAL --------------------------------------------------------------------------


@pytest.mark.clause("S0-ARRIVAL")
@pytest.mark.parametrize(
    ("payment_method", "window"),
    [
        ("card", (20, 31, 90)),
        ("paypal", (20, 90, 90)),
        ("crypto", (20, 90, 90)),
        ("bank_transfer", (20, 90, 90)),
        ("other", (20, 90, 90)),
    ],
)
def test_it_states_the_arrival_window_by_payment_method_s0_arrival(p0, payment_method, window):
    """S0-ARRIVAL: card 20–31 business days (worst 90); any other method 20–90."""
    decision = decide(make_facts(payment_method=payment_method), p0)
    assert decision.outcome == "full_refund"
    assert (decision.arrival.min, decision.arrival.max, decision.arrival.worst) == window
    assert decision.as_dict()["arrival_business_days"] == dict(zip(("min", "max", "worst"), window))


def test_it_passes_the_currency_through(p0):
    decision = decide(make_facts(currency="EUR", requested_at=at("2026-01-10 10:00")), p0)
    assert decision.currency == "EUR"
    assert decision.as_dict()["currency"] == "EUR"
    assert "EUR" in decision.explanation
