"""S1-CONTACT: an agent enters a request that came by WhatsApp from the admin's "add case" page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cases.models import OutboxMessage, RefundCase
from tests.admin.conftest import client_for, recent
from tests.admin.test_case_add_and_evidence import ADD_URL, add_form_data
from tests.conftest import make_order

pytestmark = pytest.mark.clause("S1-CONTACT")


def test_it_offers_whatsapp_and_not_the_portal_on_the_add_case_page(s1, agent):
    page = client_for(agent).get(reverse(ADD_URL)).content.decode()
    assert 'value="whatsapp"' in page and "WhatsApp (entered by an agent)" in page
    assert 'value="portal"' not in page


def test_it_opens_a_whatsapp_case_and_mails_the_customer_the_case_link(s1, agent):
    order = make_order(s1, purchased_at=recent(3))
    response = client_for(agent).post(reverse(ADD_URL), add_form_data(order, channel="whatsapp"))
    assert response.status_code == 302
    case = RefundCase.objects.get(order=order)
    assert case.channel == "whatsapp" and case.events.get().data["channel"] == "whatsapp"
    message = OutboxMessage.objects.get(case=case, template="received")
    assert message.to == order.customer.email and "/portal/c/" in message.text_body
    assert case.links.count() == 1


def test_it_refuses_a_staff_entered_case_claiming_the_portal(s1, agent):
    order = make_order(s1, purchased_at=recent(3))
    response = client_for(agent).post(reverse(ADD_URL), add_form_data(order, channel="portal"))
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not RefundCase.objects.filter(order=order).exists()
