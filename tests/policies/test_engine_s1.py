"""Storefront smarters-pro (docs/policies.md file 001) through the engine, and S1-VERSIONING."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from policies.models import PolicyVersion
from policies.selectors import decide_for_storefront, policy_version_for
from rules.engine import REASONS, decide
from tests.conftest import at
from tests.policies.conftest import PURCHASED, make_facts, policy_of


@pytest.mark.clause("S1-USED-ON-DELIVERY")
def test_it_refunds_in_full_when_never_delivered_s1_used_on_delivery(p1):
    """S1-USED-ON-DELIVERY: not yet delivered → full refund, however late the request."""
    facts = make_facts(price="49.99", delivered_at=None, requested_at=at("2026-06-01 10:00"))
    decision = decide(facts, p1)
    assert decision.outcome == "full_refund"
    assert decision.refund_amount == Decimal("49.99")
    assert decision.clauses == ("S1-USED-ON-DELIVERY",)
    assert decision.policy_version == "2025-12-05"


@pytest.mark.clause("S1-USED-ON-DELIVERY")
def test_it_refunds_in_full_when_delivery_came_after_the_request_s1_used_on_delivery(p1):
    """S1-USED-ON-DELIVERY: access details sent after the request were not sent when it was asked."""
    facts = make_facts(delivered_at=at("2026-01-05 10:00"), requested_at=at("2026-01-04 10:00"))
    decision = decide(facts, p1)
    assert decision.outcome == "full_refund"
    assert decision.clauses == ("S1-USED-ON-DELIVERY",)


@pytest.mark.clause("S1-DISCRETION", "S1-USED-ON-DELIVERY")
@pytest.mark.parametrize("reason", ["other", "technical_issue", "setup_difficulty", "server_switch",
                                    "server_outage", "not_delivered", "intermittent_streams"])
def test_it_leaves_delivered_cases_to_a_manager_s1_discretion(p1, reason):
    """S1-DISCRETION: delivered → manager_discretion, up to the remainder; S0's rules do not apply."""
    facts = make_facts(price="49.99", refunded="10.00", reason=reason, outage_hours="100",
                       requested_at=at("2026-01-01 11:00"))
    decision = decide(facts, p1)
    assert decision.outcome == "manager_discretion"
    assert decision.refund_amount == Decimal("39.99")
    assert decision.clauses == ("S1-DISCRETION", "S1-USED-ON-DELIVERY")
    assert decision.extension_days is None


@pytest.mark.clause("S1-NOT-ELIGIBLE")
def test_it_denies_a_change_of_mind_s1_not_eligible(p1):
    """S1-NOT-ELIGIBLE: changed_mind on a delivered order is denied."""
    decision = decide(make_facts(reason="changed_mind", delivered_at=at("2026-01-01 10:05")), p1)
    assert decision.outcome == "deny"
    assert decision.refund_amount is None
    assert decision.arrival is None
    assert decision.clauses == ("S1-NOT-ELIGIBLE",)


@pytest.mark.clause("S1-ARRIVAL")
@pytest.mark.parametrize("payment_method", ["card", "paypal", "crypto", "bank_transfer", "other"])
def test_it_states_three_to_ten_business_days_s1_arrival(p1, payment_method):
    """S1-ARRIVAL: 3–10 business days whatever the method."""
    decision = decide(make_facts(payment_method=payment_method, delivered_at=None), p1)
    assert decision.as_dict()["arrival_business_days"] == {"min": 3, "max": 10, "worst": 10}


# --- S1-VERSIONING -----------------------------------------------------------------------


@pytest.mark.clause("S1-VERSIONING", "S1-NOT-ELIGIBLE")
def test_it_judges_by_the_version_in_force_at_purchase_s1_versioning(s1, march_version):
    """S1-VERSIONING: purchased in March → the March text; the decision names it."""
    facts = make_facts(reason="server_switch", purchased_at=at("2026-03-15 10:00"),
                       delivered_at=at("2026-03-15 10:05"), requested_at=at("2026-03-16 10:00"))
    decision = decide_for_storefront(slug="smarters-pro", facts=facts)
    assert decision.outcome == "deny"
    assert decision.clauses == ("S1-NOT-ELIGIBLE",)
    assert decision.policy_version == "2026-03-01"
    delivered_none = make_facts(purchased_at=at("2026-03-15 10:00"), delivered_at=None,
                                requested_at=at("2026-03-16 10:00"))
    assert decide_for_storefront(slug="smarters-pro", facts=delivered_none).arrival.max == 5


@pytest.mark.clause("S1-VERSIONING")
def test_it_judges_by_purchase_time_not_request_time_s1_versioning(s1, march_version):
    """S1-VERSIONING: bought in February, asked in March → the December text."""
    facts = make_facts(reason="server_switch", purchased_at=at("2026-02-27 10:00"),
                       delivered_at=at("2026-02-27 10:05"), requested_at=at("2026-03-10 10:00"))
    decision = decide_for_storefront(slug="smarters-pro", facts=facts)
    assert decision.outcome == "manager_discretion"
    assert decision.policy_version == "2025-12-05"


@pytest.mark.clause("S1-VERSIONING")
def test_it_applies_a_version_from_its_effective_moment_on_s1_versioning(s1, march_version):
    """S1-VERSIONING: a purchase at the very moment a version takes effect is judged by it."""
    moment = at("2026-03-01 00:00")
    assert policy_version_for(storefront_id=s1.pk, purchased_at=moment).version == "2026-03-01"
    before = moment - timedelta(microseconds=1)
    assert policy_version_for(storefront_id=s1.pk, purchased_at=before).version == "2025-12-05"


@pytest.mark.clause("S1-VERSIONING")
def test_it_uses_the_earliest_version_when_the_purchase_predates_all_s1_versioning(s1, march_version):
    """S1-VERSIONING: bought before 2025-12-05 → the earliest version."""
    facts = make_facts(purchased_at=at("2025-06-01 10:00"), delivered_at=None, requested_at=at("2025-06-02 10:00"))
    decision = decide_for_storefront(slug="smarters-pro", facts=facts)
    assert decision.policy_version == "2025-12-05"
    assert decision.outcome == "full_refund"
    assert policy_of(s1, purchased_at=at("2025-06-01 10:00")).version == "2025-12-05"


@pytest.mark.clause("S1-VERSIONING", "S0-NO-CHANGE")
def test_it_keeps_each_storefront_on_its_own_versions_s1_versioning(s0, s1, march_version):
    """S1-VERSIONING: a new smarters-pro version does not touch iptv-smarters-pro."""
    facts = make_facts(reason="server_switch", purchased_at=at("2026-03-15 10:00"),
                       delivered_at=at("2026-03-15 10:05"), requested_at=at("2026-03-16 10:00"))
    decision = decide_for_storefront(slug="iptv-smarters-pro", facts=facts)
    assert decision.policy_version == "1"
    assert decision.clauses == ("S0-NO-CHANGE",)


# --- house rules on both storefronts ----------------------------------------------------


@pytest.mark.clause("H-DUPLICATE")
@pytest.mark.parametrize("slug", ["iptv-smarters-pro", "smarters-pro"])
def test_it_refunds_a_duplicate_payment_whatever_the_dates_h_duplicate(db, slug):
    """H-DUPLICATE: delivered, a year after purchase, partly refunded → the whole remainder."""
    facts = make_facts(price="59.99", refunded="0.99", reason="duplicate_payment",
                       requested_at=PURCHASED + timedelta(days=400))
    decision = decide_for_storefront(slug=slug, facts=facts)
    assert decision.outcome == "full_refund"
    assert decision.refund_amount == Decimal("59.00")
    assert decision.clauses == ("H-DUPLICATE",)


@pytest.mark.clause("H-CAP")
@pytest.mark.parametrize("slug", ["iptv-smarters-pro", "smarters-pro"])
@pytest.mark.parametrize("reason", REASONS)
def test_it_only_denies_when_nothing_is_left_to_refund_h_cap(db, slug, reason):
    """H-CAP: a remainder of zero can only be denied, citing H-CAP, whatever the reason."""
    facts = make_facts(price="59.99", refunded="59.99", reason=reason, delivered_at=None, outage_hours="100",
                       requested_at=at("2026-01-01 11:00"))
    decision = decide_for_storefront(slug=slug, facts=facts)
    assert decision.outcome == "deny"
    assert decision.refund_amount is None
    assert decision.arrival is None
    assert decision.clauses == ("H-CAP",)


@pytest.mark.clause("H-CAP")
@pytest.mark.parametrize(
    ("slug", "facts_kwargs", "outcome"),
    [
        ("iptv-smarters-pro", {}, "full_refund"),  # S0-WINDOW
        ("iptv-smarters-pro", {"reason": "server_outage", "outage_hours": "72", "requested_at": at("2026-01-05 10:00")},
         "refund_or_extension"),
        ("iptv-smarters-pro", {"delivered_at": None, "requested_at": at("2026-02-01 10:00")}, "full_refund"),
        ("smarters-pro", {"delivered_at": None}, "full_refund"),
        ("smarters-pro", {}, "manager_discretion"),
    ],
)
def test_it_reduces_every_refund_by_what_was_already_refunded_h_cap(db, slug, facts_kwargs, outcome):
    """H-CAP: the amount is the refundable remainder: paid minus already refunded."""
    facts = make_facts(price="59.99", refunded="20.00", **facts_kwargs)
    decision = decide_for_storefront(slug=slug, facts=facts)
    assert decision.outcome == outcome
    assert decision.refund_amount == Decimal("39.99")


@pytest.mark.clause("H-CAP", "S0-PARTIAL", "H-FULL-LABEL")
def test_it_never_prorates_above_the_remainder_h_cap(p0):
    """H-CAP: 90.00 × 29 / 31 = 84.19 prorated, but only 10.00 is left → 10.00, a full refund."""
    facts = make_facts(price="90.00", refunded="80.00", requested_at=PURCHASED + timedelta(hours=48, seconds=1))
    decision = decide(facts, p0)
    assert decision.outcome == "full_refund"
    assert decision.refund_amount == Decimal("10.00")
    assert decision.clauses == ("S0-PARTIAL", "H-CAP", "H-FULL-LABEL")


@pytest.mark.clause("H-CAP")
def test_it_cites_the_cap_when_a_version_has_no_rule_switched_on_h_cap(db):
    """A bare policy version leaves the case to a manager, up to the remainder, and still cites a clause."""
    from orders.models import Storefront

    shop = Storefront.objects.create(slug="bare-shop", name="Bare", support_email="help@bare.example")
    PolicyVersion.objects.create(storefront=shop, version="v0", effective_from=at("2020-01-01 00:00"), code="S9")
    decision = decide_for_storefront(slug="bare-shop", facts=make_facts(price="15.00", refunded="5.00"))
    assert decision.outcome == "manager_discretion"
    assert decision.refund_amount == Decimal("10.00")
    assert decision.clauses == ("H-CAP",)
