"""The policy simulator page: managers only, same answers as ``manage.py simulate_refund``."""

from __future__ import annotations

import json
import tempfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.admin.conftest import client_for

URL = "admin:policies_policyversion_simulate"


def facts(**overrides) -> dict:
    data = {
        "mode": "form", "storefront": "iptv-smarters-pro", "price": "59.99", "currency": "USD",
        "payment_method": "card", "plan_months": "3", "devices": "1", "purchased_at": "2026-01-01T10:00Z",
        "delivered_at": "2026-01-01T10:05Z", "refunded_so_far": "0.00", "requested_at": "2026-01-02T09:00Z",
        "reason": "technical_issue", "fix_started_at": "", "fix_outcome": "", "outage_hours": "0",
        "as_of": "2026-01-02T09:00Z",
    }
    data.update(overrides)
    return data


@pytest.mark.clause("S0-FIX-48H", "S0-WINDOW")
def test_it_lets_a_manager_simulate_and_shows_each_clause_text(s0, manager):
    client = client_for(manager)
    assert client.get(reverse(URL)).status_code == 200
    response = client.post(reverse(URL), facts(fix_started_at="2026-01-02T09:30Z", fix_outcome="unresolved",
                                               as_of="2026-01-02T12:00Z"))
    assert response.status_code == 200
    result = response.context["results"][0]["result"]
    assert result["outcome"] == "full_refund" and result["clauses"] == ["S0-FIX-48H", "S0-WINDOW"]
    html = response.content.decode()
    assert "If we cannot resolve the issue within 48 h, we issue a full refund" in html
    assert "Refunds must be requested within 48 h of purchase" in html


@pytest.mark.clause("S1-USED-ON-DELIVERY")
def test_it_answers_exactly_as_the_command_does(s0, s1, manager):
    item = {
        "storefront": "smarters-pro", "price": "30.00", "currency": "EUR", "payment_method": "paypal",
        "plan_months": 1, "devices": 2, "purchased_at": "2026-01-01T10:00:00+00:00", "delivered_at": None,
        "refunded_so_far": "5.00", "requested_at": "2026-01-03T10:00:00+00:00", "reason": "not_delivered",
        "fix_attempt": None, "outage_hours": 0, "as_of": "2026-01-03T10:00:00+00:00",
    }
    out = StringIO()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(item, handle)
    call_command("simulate_refund", handle.name, stdout=out)
    Path(handle.name).unlink()
    expected = json.loads(out.getvalue())
    # docs/simulator.md and docs/policies.md: never delivered on smarters-pro → the whole remainder (30.00 − 5.00).
    assert (expected["outcome"], expected["refund_amount"]) == ("full_refund", "25.00")
    assert expected["clauses"] == ["S1-USED-ON-DELIVERY"]
    assert expected["arrival_business_days"] == {"min": 3, "max": 10, "worst": 10}
    client = client_for(manager)
    response = client.post(reverse(URL), {"mode": "json", "raw_json": json.dumps([item, item])})
    assert response.context["ok"] is True
    assert json.loads(response.context["output_json"]) == [expected, expected]
    form_response = client.post(reverse(URL), facts(
        storefront="smarters-pro", price="30.00", currency="EUR", payment_method="paypal", plan_months="1",
        devices="2", delivered_at="", refunded_so_far="5.00", purchased_at="2026-01-01T10:00:00+00:00",
        requested_at="2026-01-03T10:00:00+00:00", reason="not_delivered", as_of="2026-01-03T10:00:00+00:00"))
    assert json.loads(form_response.context["output_json"]) == expected
    # The form shows the JSON it built, ready to paste into the command.
    assert json.loads(form_response.context["raw_json"])["delivered_at"] is None


def test_it_shows_bad_input_errors_naming_the_key(s0, manager):
    client = client_for(manager)
    response = client.post(reverse(URL), facts(price="abc"))
    assert response.status_code == 200 and response.context["ok"] is False
    assert "price: &#x27;abc&#x27; is not a decimal amount" in response.content.decode()
    response = client.post(reverse(URL), facts(requested_at="yesterday"))
    assert "requested_at:" in response.context["results"][0]["result"]["error"]
    response = client.post(reverse(URL), facts(storefront="nope"))
    assert response.context["results"][0]["result"]["error"].startswith("storefront:")
    response = client.post(reverse(URL), facts(fix_outcome="pending"))
    assert response.context["results"][0]["result"]["error"] == "fix_attempt.started_at: is required"
    response = client.post(reverse(URL), {"mode": "json", "raw_json": "{not json"})
    assert response.context["results"][0]["result"]["error"].startswith("input: not valid JSON")
    response = client.post(reverse(URL), {"mode": "json", "raw_json": '[{"storefront": "smarters-pro"}, 3]'})
    errors = [item["result"]["error"] for item in response.context["results"]]
    assert errors[0] == "price: is required" and len(errors) == 2


def test_it_reads_times_without_offset_as_utc(s0, manager):
    response = client_for(manager).post(reverse(URL), facts(purchased_at="2026-01-01T10:00",
                                                            requested_at="2026-01-01 12:00", reason="other"))
    assert response.context["ok"] is True
    assert json.loads(response.context["raw_json"])["purchased_at"] == "2026-01-01T10:00Z"


def test_it_forbids_the_simulator_to_agents(s0, agent):
    client = client_for(agent)
    assert client.get(reverse(URL)).status_code == 403
    assert client.post(reverse(URL), facts()).status_code == 403


def test_it_links_the_simulator_and_queues_from_the_index(s0, agent, manager):
    simulator = reverse(URL)
    manager_html = client_for(manager).get(reverse("admin:index")).content.decode()
    assert simulator in manager_html and "My open cases" in manager_html
    agent_html = client_for(agent).get(reverse("admin:index")).content.decode()
    assert simulator not in agent_html and "My open cases" in agent_html


def test_it_speaks_in_words_not_codes_on_the_form_and_the_result(s0, manager):
    client = client_for(manager)

    form_html = client.get(reverse(URL)).content.decode()
    response = client.post(reverse(URL), facts(reason="changed_mind"))

    assert '<option value="bank_transfer">Bank transfer</option>' in form_html
    assert '<option value="3" selected>3 months</option>' in form_html
    result = response.context["results"][0]
    assert result["result"]["outcome"] == "deny"
    answer = response.content.decode().split('id="simulation-result"')[1].split("<details")[0]
    assert '<span class="rb-outcome">Deny</span>' in answer
    assert ">deny<" not in answer and "**" not in answer and "`" not in answer
