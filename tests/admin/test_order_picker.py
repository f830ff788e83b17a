"""The order picker of the "open a case" and "record a chargeback" pages, fed ids that cannot be orders."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cases.models import RefundCase
from orders.models import Chargeback
from tests.admin.conftest import client_for, messages_of
from tests.conftest import make_order

HUGE = "9" * 25
ADD_PAGES = ["admin:cases_refundcase_add", "admin:orders_chargeback_add"]


@pytest.mark.parametrize("page", ADD_PAGES)
@pytest.mark.parametrize("bad", [HUGE, str(2**63), "0", "abc"])
def test_it_opens_the_add_page_linked_to_an_impossible_order_with_a_message(page, bad, s0, agent):
    response = client_for(agent).get(reverse(page), {"order": bad})
    assert response.status_code == 200
    assert "There is no such order" in " ".join(messages_of(response))
    assert response.context["adminform"].form.initial.get("order") is None


@pytest.mark.parametrize("page", ADD_PAGES)
def test_it_preselects_the_order_an_add_page_was_linked_with(page, s0, agent):
    order = make_order(s0)
    response = client_for(agent).get(reverse(page), {"order": str(order.pk)})
    assert response.status_code == 200 and messages_of(response) == []
    assert f'<option value="{order.pk}" selected>' in response.content.decode()


@pytest.mark.parametrize("page", ADD_PAGES)
@pytest.mark.parametrize("bad", [HUGE, str(2**63), "abc"])
def test_it_gives_the_add_form_back_with_an_error_when_an_impossible_order_is_posted(page, bad, s0, agent):
    data = {"order": bad, "reason": "other", "channel": "admin", "requested_at_0": "2026-01-01",
            "requested_at_1": "10:00:00", "outage_hours": "0", "amount": "1.00", "opened_at_0": "2026-01-01",
            "opened_at_1": "10:00:00"}
    response = client_for(agent).post(reverse(page), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["order"] == ["There is no such order: pick one from the list."]
    assert not RefundCase.objects.exists() and not Chargeback.objects.exists()
