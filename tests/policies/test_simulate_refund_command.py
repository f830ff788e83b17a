"""`manage.py simulate_refund` against docs/simulator.md: JSON in, JSON out, nothing written."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.core.management import call_command

from orders.models import Storefront
from policies.models import PolicyVersion
from tests.conftest import at

OUTPUT_KEYS = {
    "outcome", "refund_amount", "extension_days", "currency", "policy_version", "clauses", "explanation",
    "arrival_business_days",
}
TWO_DECIMALS = re.compile(r"^\d+\.\d{2}$")


def case(**overrides) -> dict:
    item = {
        "storefront": "iptv-smarters-pro",
        "price": "59.99",
        "currency": "USD",
        "payment_method": "card",
        "plan_months": 1,
        "devices": 1,
        "purchased_at": "2026-01-01T10:00:00Z",
        "delivered_at": "2026-01-01T10:05:00Z",
        "refunded_so_far": "0.00",
        "requested_at": "2026-01-02T10:00:00Z",
        "reason": "other",
        "fix_attempt": None,
        "outage_hours": 0,
        "as_of": "2026-01-02T10:00:00Z",
    }
    item.update(overrides)
    return item


def without(key: str) -> dict:
    item = case()
    del item[key]
    return item


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def simulate(tmp_path, payload, *, raw: str | None = None) -> tuple[object, int]:
    """Run the command on a file; the parsed output and the exit status."""
    path = tmp_path / "cases.json"
    path.write_text(raw if raw is not None else json.dumps(payload), encoding="utf-8")
    out = io.StringIO()
    status = 0
    try:
        call_command("simulate_refund", str(path), stdout=out)
    except SystemExit as stop:
        status = stop.code
    return json.loads(out.getvalue()), status


def simulate_stdin(monkeypatch, text: str) -> tuple[object, int]:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    out = io.StringIO()
    status = 0
    try:
        call_command("simulate_refund", "-", stdout=out)
    except SystemExit as stop:
        status = stop.code
    return json.loads(out.getvalue()), status


def assert_decision_shape(result: dict) -> None:
    assert set(result) == OUTPUT_KEYS
    assert isinstance(result["clauses"], list) and result["clauses"]
    assert isinstance(result["explanation"], str) and result["explanation"]
    if result["refund_amount"] is not None:
        assert TWO_DECIMALS.match(result["refund_amount"])


@pytest.mark.clause("S0-WINDOW")
def test_it_answers_an_object_with_an_object(db, tmp_path):
    result, status = simulate(tmp_path, case(price="60"))
    assert status == 0
    assert_decision_shape(result)
    assert result == {
        "outcome": "full_refund",
        "refund_amount": "60.00",
        "extension_days": None,
        "currency": "USD",
        "policy_version": "1",
        "clauses": ["S0-WINDOW"],
        "explanation": result["explanation"],
        "arrival_business_days": {"min": 20, "max": 31, "worst": 90},
    }


def test_it_answers_an_array_with_an_array_in_the_same_order(db, tmp_path):
    items = [
        case(reason="setup_difficulty"),
        case(storefront="smarters-pro", currency="EUR", payment_method="paypal"),
        case(reason="server_outage", outage_hours=49.5, requested_at="2026-01-03T12:00:00Z"),
        case(requested_at="2026-01-03T10:00:01Z", price="59.99"),
        case(reason="technical_issue"),
    ]
    results, status = simulate(tmp_path, items)
    assert status == 0
    assert isinstance(results, list)
    for result in results:
        assert_decision_shape(result)
    assert [r["outcome"] for r in results] == [
        "deny", "manager_discretion", "refund_or_extension", "partial_refund", "needs_fix_attempt"]
    assert results[1]["currency"] == "EUR"
    assert results[1]["policy_version"] == "2025-12-05"
    assert results[1]["arrival_business_days"] == {"min": 3, "max": 10, "worst": 10}
    assert results[2]["extension_days"] == 3
    assert results[3]["refund_amount"] == "56.11"  # 59.99 × 29 / 31, rounded down
    assert results[0]["refund_amount"] is None and results[0]["arrival_business_days"] is None


def test_it_answers_an_empty_array_with_an_empty_array(db, tmp_path):
    assert simulate(tmp_path, []) == ([], 0)


def test_it_reads_standard_input_with_a_dash(db, monkeypatch):
    result, status = simulate_stdin(monkeypatch, json.dumps([case(refunded_so_far="9.99")]))
    assert status == 0
    assert result[0]["refund_amount"] == "50.00"


@pytest.mark.parametrize(
    ("item", "key"),
    [
        (case(storefront="no-such-shop"), "storefront"),
        (case(storefront="bad\u0000slug"), "storefront"),
        (case(storefront=7), "storefront"),
        (case(reason="bored"), "reason"),
        (case(purchased_at="2026-13-01T10:00:00Z"), "purchased_at"),
        (case(purchased_at="yesterday"), "purchased_at"),
        (case(requested_at="2026-01-02T10:00:00"), "requested_at"),
        (case(delivered_at="2026-01-01T10:05:00"), "delivered_at"),
        (case(as_of="2026-01-02T10:00:00"), "as_of"),
        (case(price="12.3.4"), "price"),
        (case(price="ten"), "price"),
        (case(price="1.999"), "price"),
        (case(price="1e30"), "price"),
        (case(price="NaN"), "price"),
        (case(refunded_so_far="lots"), "refunded_so_far"),
        (case(delivered_at="2026-01-01T09:59:59Z"), "delivered_at"),
        (case(price="-1.00"), "price"),
        (case(refunded_so_far="60.00"), "refunded_so_far"),
        (case(requested_at="2026-01-01T09:00:00Z"), "requested_at"),
        (case(plan_months=2), "plan_months"),
        (case(payment_method="cash"), "payment_method"),
        (case(currency="dollars"), "currency"),
        (case(fix_attempt={"started_at": "2026-01-02T10:00:00Z", "outcome": "maybe"}), "fix_attempt.outcome"),
        (case(fix_attempt={"outcome": "pending"}), "fix_attempt.started_at"),
        (case(outage_hours=-1), "outage_hours"),
        (case(outage_hours="1e999999"), "outage_hours"),
        (case(purchased_at="9999-12-31T10:00:00Z"), "purchased_at"),
        (case(purchased_at="0001-01-01T00:00:00+01:00"), "purchased_at"),
        (without("storefront"), "storefront"),
        (without("price"), "price"),
        (without("currency"), "currency"),
        (without("payment_method"), "payment_method"),
        (without("plan_months"), "plan_months"),
        (without("purchased_at"), "purchased_at"),
        (without("requested_at"), "requested_at"),
        (without("reason"), "reason"),
    ],
)
def test_it_reports_bad_input_per_item_naming_the_key(db, tmp_path, item, key):
    before = row_counts()
    results, status = simulate(tmp_path, [case(), item, case(storefront="smarters-pro")])
    assert status == 1
    assert len(results) == 3
    assert set(results[1]) == {"error"}
    assert results[1]["error"].startswith(f"{key}:"), results[1]["error"]
    assert results[0]["outcome"] == "full_refund"
    assert results[2]["outcome"] == "manager_discretion"
    assert row_counts() == before


def test_it_reports_an_object_with_bad_input_as_an_error_object(db, tmp_path):
    result, status = simulate(tmp_path, case(reason="bored"))
    assert status == 1
    assert set(result) == {"error"}
    assert "reason" in result["error"]


@pytest.mark.parametrize("raw", ["{not json", "", "42", '"a string"', '{"a": 1' + "0" * 5000 + "}", "[" * 100000])
def test_it_reports_input_that_is_not_usable_json(db, tmp_path, raw):
    before = row_counts()
    result, status = simulate(tmp_path, None, raw=raw)
    assert status == 1
    assert set(result) == {"error"}
    assert result["error"].startswith("input:")
    assert row_counts() == before


def test_it_reports_input_that_is_not_utf8(db, tmp_path):
    path = tmp_path / "cases.json"
    path.write_bytes(b"\xff\xfe{}")
    out = io.StringIO()
    with pytest.raises(SystemExit) as stop:
        call_command("simulate_refund", str(path), stdout=out)
    assert stop.value.code == 1
    assert json.loads(out.getvalue()) == {"error": "input: not UTF-8 text"}


def test_it_reports_a_non_object_item_in_an_array(db, tmp_path):
    results, status = simulate(tmp_path, [case(), 5])
    assert status == 1
    assert results[0]["outcome"] == "full_refund"
    assert set(results[1]) == {"error"}


def test_it_writes_nothing_to_the_database(db, tmp_path):
    before = row_counts()
    items = [case(reason=reason) for reason in (
        "technical_issue", "setup_difficulty", "intermittent_streams", "changed_mind", "server_switch",
        "adult_channels_missing", "server_outage", "not_delivered", "duplicate_payment", "other")]
    items.append(case(reason="technical_issue", fix_attempt={"started_at": "2026-01-01T11:00:00Z",
                                                             "outcome": "unresolved"}))
    results, status = simulate(tmp_path, items + [case(storefront="smarters-pro", delivered_at=None)])
    assert status == 0
    assert len(results) == 12
    assert row_counts() == before


@pytest.mark.clause("S0-FIX-48H", "S0-WINDOW")
def test_it_decides_a_pending_fix_against_the_current_time_by_default(db, tmp_path):
    """as_of defaults to now: a fix started an hour ago is awaited, one started 49 h ago has run out."""
    now = datetime.now(UTC).replace(microsecond=0)
    purchased = now - timedelta(days=3)
    base = {
        "purchased_at": purchased.isoformat(),
        "delivered_at": purchased.isoformat(),
        "requested_at": (purchased + timedelta(hours=1)).isoformat(),
        "reason": "technical_issue",
    }
    fresh = {**case(**base), "fix_attempt": {"started_at": (now - timedelta(hours=1)).isoformat(),
                                             "outcome": "pending"}}
    stale = {**case(**base), "fix_attempt": {"started_at": (now - timedelta(hours=49)).isoformat(),
                                             "outcome": "pending"}}
    del fresh["as_of"], stale["as_of"]
    results, status = simulate(tmp_path, [fresh, stale])
    assert status == 0
    assert results[0]["outcome"] == "awaiting_fix"
    assert results[1]["outcome"] == "full_refund"
    assert results[1]["clauses"] == ["S0-FIX-48H", "S0-WINDOW"]


def test_it_treats_a_missing_delivery_as_never_delivered(db, tmp_path):
    item = without("delivered_at")
    item["requested_at"] = "2026-02-15T10:00:00Z"
    result, status = simulate(tmp_path, item)
    assert status == 0
    assert result["outcome"] == "full_refund"
    assert result["refund_amount"] == "59.99"


def test_it_gives_the_same_decision_whatever_offset_the_datetimes_are_written_in(db, tmp_path):
    utc = case(requested_at="2026-01-05T10:00:00Z", delivered_at="2026-01-01T23:30:00Z", as_of="2026-01-05T10:00:00Z")
    shifted = case(
        purchased_at="2026-01-01T05:00:00-05:00",
        delivered_at="2026-01-02T05:00:00+05:30",
        requested_at="2026-01-05T19:00:00+09:00",
        as_of="2026-01-05T00:00:00-10:00",
    )
    results, status = simulate(tmp_path, [utc, shifted])
    assert status == 0
    assert results[0]["outcome"] == "partial_refund"
    assert results[0] == results[1]


def test_it_simulates_a_storefront_added_to_the_database(db, tmp_path):
    shop = Storefront.objects.create(slug="tv-plus", name="TV Plus", support_email="help@tvplus.example")
    PolicyVersion.objects.create(
        storefront=shop, version="2026-01", effective_from=at("2026-01-01 00:00"), code="S9",
        full_refund_window_hours=24, prorate_after_window=False, exclusions={"server_switch": "S9-NO-SWITCH"},
        arrival_card_min=5, arrival_card_max=7, arrival_card_worst=14,
    )
    results, status = simulate(tmp_path, [
        case(storefront="tv-plus", requested_at="2026-01-02T10:00:00Z"),
        case(storefront="tv-plus", requested_at="2026-01-02T10:00:01Z"),
        case(storefront="tv-plus", reason="server_switch"),
    ])
    assert status == 0
    assert [r["outcome"] for r in results] == ["full_refund", "deny", "deny"]
    assert [r["clauses"] for r in results] == [["S9-WINDOW"], ["S9-WINDOW"], ["S9-NO-SWITCH"]]
    assert {r["policy_version"] for r in results} == {"2026-01"}
    assert results[0]["arrival_business_days"] == {"min": 5, "max": 7, "worst": 14}


def test_it_reports_a_storefront_without_a_policy(db, tmp_path):
    Storefront.objects.create(slug="no-policy", name="No policy", support_email="help@none.example")
    results, status = simulate(tmp_path, [case(storefront="no-policy"), case()])
    assert status == 1
    assert "storefront" in results[0]["error"]
    assert results[1]["outcome"] == "full_refund"


def test_it_fails_cleanly_on_a_missing_file(db, tmp_path):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="cannot read"):
        call_command("simulate_refund", str(tmp_path / "absent.json"), stdout=io.StringIO())
