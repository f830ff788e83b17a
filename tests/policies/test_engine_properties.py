"""Properties every decision keeps, over generated facts on both shipped policies."""

from __future__ import annotations

import calendar
import dataclasses
import importlib
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.models import Storefront
from policies.models import PolicyVersion
from rules.engine import Facts, FixAttempt, Policy, decide

UTC = UTC
SLUGS = ("iptv-smarters-pro", "smarters-pro")
# docs/simulator.md, "Output": the outcomes, and those under which money may move.
OUTCOMES = {"full_refund", "partial_refund", "refund_or_extension", "manager_discretion", "deny",
            "needs_fix_attempt", "awaiting_fix", "resolved"}
MONEY_OUTCOMES = {"full_refund", "partial_refund", "refund_or_extension", "manager_discretion"}
REASONS = ("technical_issue", "setup_difficulty", "intermittent_streams", "changed_mind", "server_switch",
           "adult_channels_missing", "server_outage", "not_delivered", "duplicate_payment", "other")
TWO_DECIMALS = re.compile(r"^\d+\.\d{2}$")
FAST = settings(max_examples=200, deadline=None)


@pytest.fixture(scope="module")
def shipped() -> tuple[dict[str, Policy], frozenset[str]]:
    """The policies and clause IDs exactly as the data migration ships them, built without a database.

    The properties touch no database, so nothing here depends on what other tests left in it.
    """
    shipped_data = importlib.import_module("policies.migrations.0002_shipped_policies")
    policies = {}
    for data in shipped_data.VERSIONS:
        fields = {key: value for key, value in data.items() if key != "storefront"}
        version = PolicyVersion(storefront=Storefront(slug=data["storefront"]), **fields)
        policies[data["storefront"]] = version.to_policy()
    clause_ids = frozenset(clause_id for clause_id, *_ in shipped_data.CLAUSES)
    return policies, clause_ids


offsets = st.integers(min_value=-12 * 4, max_value=14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))
# Boundaries of docs/policies.md next to arbitrary spans: the 48 h limits, whole days, a second either side.
spans = st.one_of(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
    st.sampled_from([timedelta(0), timedelta(hours=48), timedelta(hours=48, seconds=1),
                     timedelta(hours=48, seconds=-1), timedelta(days=31), timedelta(days=365)]),
    st.integers(min_value=0, max_value=400).map(lambda d: timedelta(days=d)),
)


@st.composite
def month_edges(draw) -> datetime:
    """Instants near a month's end, where the month (and its clamping) depends on the offset."""
    year = draw(st.integers(min_value=2019, max_value=2027))
    month = draw(st.integers(min_value=1, max_value=12))
    last = calendar.monthrange(year, month)[1]
    start = datetime(year, month, last, tzinfo=UTC) if draw(st.booleans()) else datetime(year, month, 1, tzinfo=UTC)
    return start + draw(st.timedeltas(min_value=timedelta(hours=-14), max_value=timedelta(hours=14)))


@st.composite
def facts(draw) -> Facts:
    price = draw(st.decimals(min_value=0, max_value=99999, places=2))
    refunded = draw(st.one_of(st.just(Decimal("0.00")), st.just(price),
                              st.decimals(min_value=0, max_value=price, places=2)))
    purchased = draw(st.one_of(
        st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
        month_edges(),
    ))
    delivered = draw(st.one_of(st.none(), st.just(purchased), spans.map(lambda span: purchased + span)))
    requested = purchased + draw(spans)
    fix = draw(st.one_of(
        st.none(),
        st.builds(FixAttempt, started_at=spans.map(lambda span: requested + span),
                  outcome=st.sampled_from(("pending", "resolved", "unresolved"))),
    ))
    as_of = (fix.started_at if fix else requested) + draw(spans)
    outage = draw(st.one_of(st.decimals(min_value=0, max_value=2000, places=1),
                            st.sampled_from([Decimal("48"), Decimal("48.1"), Decimal("72")])))
    return Facts(
        price=price,
        currency=draw(st.sampled_from(("USD", "EUR", "GBP"))),
        payment_method=draw(st.sampled_from(("card", "paypal", "crypto", "bank_transfer", "other"))),
        plan_months=draw(st.sampled_from((1, 3, 6, 12))),
        devices=draw(st.integers(min_value=1, max_value=5)),
        purchased_at=purchased,
        delivered_at=delivered,
        refunded_so_far=refunded,
        requested_at=requested,
        reason=draw(st.sampled_from(REASONS)),
        fix_attempt=fix,
        outage_hours=outage,
        as_of=as_of,
    )


@pytest.mark.clause("H-CAP")
@FAST
@given(case=facts(), slug=st.sampled_from(SLUGS))
def test_it_keeps_every_amount_between_zero_and_the_remainder_in_cents(shipped, case, slug):
    """H-CAP: never negative, never above paid − refunded, always two decimals."""
    decision = decide(case, shipped[0][slug])
    if decision.refund_amount is not None:
        assert decision.refund_amount >= 0
        assert decision.refund_amount <= case.price - case.refunded_so_far
        assert decision.refund_amount.as_tuple().exponent == -2
        assert TWO_DECIMALS.match(decision.as_dict()["refund_amount"])


@FAST
@given(case=facts(), slug=st.sampled_from(SLUGS))
def test_it_moves_money_only_under_a_refunding_outcome(shipped, case, slug):
    """refund_amount and arrival_business_days are null exactly when no money can move."""
    decision = decide(case, shipped[0][slug])
    assert decision.outcome in OUTCOMES
    assert (decision.refund_amount is None) == (decision.outcome not in MONEY_OUTCOMES)
    assert (decision.arrival is None) == (decision.refund_amount is None)
    assert (decision.extension_days is not None) == (decision.outcome == "refund_or_extension")
    if decision.refund_amount is not None:
        assert decision.refund_amount > 0  # H-FULL-LABEL: a 0.00 refund is a denial


@pytest.mark.clause("H-FULL-LABEL", "H-CAP")
@FAST
@given(case=facts(), slug=st.sampled_from(SLUGS))
def test_it_labels_full_and_partial_refunds_by_the_remainder_h_full_label(shipped, case, slug):
    """H-FULL-LABEL: full_refund pays the whole remainder; partial_refund pays less."""
    decision = decide(case, shipped[0][slug])
    remainder = case.price - case.refunded_so_far
    if decision.outcome == "full_refund":
        assert decision.refund_amount == remainder
    if decision.outcome == "partial_refund":
        assert 0 < decision.refund_amount < remainder
    if remainder == 0:
        assert (decision.outcome, decision.clauses) == ("deny", ("H-CAP",))


@FAST
@given(case=facts(), slug=st.sampled_from(SLUGS))
def test_it_cites_known_clauses_and_names_its_policy(shipped, case, slug):
    policies, clause_ids = shipped
    decision = decide(case, policies[slug])
    assert decision.clauses
    assert set(decision.clauses) <= clause_ids
    assert decision.policy_version == policies[slug].version
    assert decision.currency == case.currency
    assert decision.explanation


@FAST
@given(case=facts(), slug=st.sampled_from(SLUGS))
def test_it_decides_the_same_facts_the_same_way(shipped, case, slug):
    policy = shipped[0][slug]
    assert decide(case, policy) == decide(dataclasses.replace(case), policy) == decide(case, policy)


@FAST
@given(case=facts(), slug=st.sampled_from(SLUGS), zones=st.lists(offsets, min_size=5, max_size=5))
def test_it_ignores_the_offset_the_datetimes_are_written_in(shipped, case, slug, zones):
    """The same instants written at other UTC offsets give the same decision."""
    purchased, delivered, requested, started, as_of = zones
    fix = case.fix_attempt
    moved = dataclasses.replace(
        case,
        purchased_at=case.purchased_at.astimezone(purchased),
        delivered_at=None if case.delivered_at is None else case.delivered_at.astimezone(delivered),
        requested_at=case.requested_at.astimezone(requested),
        fix_attempt=None if fix is None else FixAttempt(started_at=fix.started_at.astimezone(started),
                                                        outcome=fix.outcome),
        as_of=case.as_of.astimezone(as_of),
    )
    policy = shipped[0][slug]
    assert decide(moved, policy) == decide(case, policy)


@pytest.mark.clause("S0-PARTIAL")
@FAST
@given(delivered=month_edges(), used=st.timedeltas(min_value=timedelta(days=3), max_value=timedelta(days=27)),
       plan_months=st.sampled_from((1, 3, 6, 12)), zone=offsets)
def test_it_prorates_a_month_end_delivery_the_same_way_at_any_offset_s0_partial(
    shipped, delivered, used, plan_months, zone
):
    """S0-PARTIAL: near a month's end the customer's month may differ from UTC's; the amount may not."""
    case = Facts(price=Decimal("99.99"), currency="USD", payment_method="card", plan_months=plan_months,
                 purchased_at=delivered, delivered_at=delivered, requested_at=delivered + used, reason="other",
                 as_of=delivered + used)
    moved = dataclasses.replace(case, purchased_at=delivered.astimezone(zone), delivered_at=delivered.astimezone(zone),
                                requested_at=case.requested_at.astimezone(zone))
    policy = shipped[0]["iptv-smarters-pro"]
    assert decide(moved, policy) == decide(case, policy)
