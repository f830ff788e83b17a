"""Agents set the reason of requests that came without one, from the case page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cases.models import RefundCase
from mail.intake import intake_email
from tests.admin.conftest import case_url, client_for, messages_of, recent
from tests.conftest import make_order


def emailed_case(storefront):
    order = make_order(storefront, email="kim@example.com", purchased_at=recent(3))
    return intake_email(storefront=storefront, sender="kim@example.com", subject="Refund Request",
                        body=f"order {order.number}", received_at=recent(2)).case


def test_it_shows_an_unconfirmed_reason_and_blocks_approval_with_the_reason_why(s0, agent):
    case = emailed_case(s0)

    page = client_for(agent).get(case_url(case)).content.decode()

    assert "to confirm" in page and "Confirm reason" in page
    assert "Confirm the reason first" in page


@pytest.mark.clause("S0-NO-SETUP")
def test_it_sets_the_reason_and_the_policy_follows(s0, agent):
    case = emailed_case(s0)
    url = reverse("admin:cases_refundcase_reason", args=[case.pk])

    response = client_for(agent).post(url, {"reason": "setup_difficulty", "outage_hours": "", "note": "Cannot install",
                                            "expected_state": "requested"}, follow=True)

    case = RefundCase.objects.get(pk=case.pk)
    assert case.reason == "setup_difficulty" and case.reason_confirmed
    assert case.decision["clauses"] == ["S0-NO-SETUP"]
    assert any("reason set to cannot set up own device" in m for m in messages_of(response))


def test_it_refuses_bad_reason_input_with_a_message(s0, agent, outsider):
    case = emailed_case(s0)
    url = reverse("admin:cases_refundcase_reason", args=[case.pk])

    bad = client_for(agent).post(url, {"reason": "server_outage", "outage_hours": "lots"}, follow=True)
    assert bad.status_code == 200
    assert messages_of(bad)
    assert RefundCase.objects.get(pk=case.pk).reason == "other"

    denied = client_for(outsider).post(url, {"reason": "other"})
    assert denied.status_code in (302, 403)
    assert not RefundCase.objects.get(pk=case.pk).reason_confirmed
