"""Orders, chargebacks, policies and the read-only records in the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.models import CaseEvent, Payout
from orders.models import Chargeback, Customer, Subscription
from policies.models import PolicyVersion
from tests.admin.conftest import client_for, messages_of, open_case, recent
from tests.conftest import make_order


def test_it_shows_an_order_with_its_subscription_cases_payouts_and_chargebacks(s0, agent, manager):
    case = open_case(s0, reason="other")
    services.case_approve(case=case, actor=agent)
    services.case_pay(case=case, actor=manager, reference="re_77")
    url = reverse("admin:orders_order_change", args=[case.order.pk])
    for user in (agent, manager):
        response = client_for(user).get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert case.number in html and "re_77" in html
        assert reverse("admin:cases_refundcase_change", args=[case.pk]) in html
    assert "Open a refund case" in client_for(agent).get(url).content.decode()
    search = client_for(agent).get(reverse("admin:orders_order_changelist"), {"q": f"#{case.order.number}"})
    assert list(search.context["cl"].result_list) == [case.order]


@pytest.mark.clause("S1-CHARGEBACK")
def test_it_records_a_chargeback_through_the_service_and_sanctions_without_prior_contact(s1, agent):
    order = make_order(s1, purchased_at=recent(48))
    opened = timezone.localtime(timezone.now() - timedelta(hours=1))
    client = client_for(agent)
    data = {"order": str(order.pk), "amount": "59.99", "opened_at_0": opened.strftime("%Y-%m-%d"),
            "opened_at_1": opened.strftime("%H:%M:%S"), "processor_reference": "dp_1"}
    response = client.post(reverse("admin:orders_chargeback_add"), data, follow=True)
    chargeback = Chargeback.objects.get(order=order)
    assert chargeback.sanction_applied and chargeback.recorded_by == agent
    assert any("S1-CHARGEBACK" in m for m in messages_of(response))
    assert Subscription.objects.get(order=order).status == "suspended"
    assert Customer.objects.get(pk=order.customer_id).restricted_from_ordering
    response = client.post(reverse("admin:orders_chargeback_add"), {**data, "amount": "500.00"})
    assert response.status_code == 200 and "above what the order was paid" in response.content.decode()
    response = client.post(reverse("admin:orders_chargeback_add"), {**data, "amount": "abc"})
    assert response.status_code == 200 and "amount" in response.context["adminform"].form.errors
    assert Chargeback.objects.count() == 1


def test_it_lifts_a_sanction_only_for_a_manager_with_a_note(s1, agent, manager):
    from cases.services.chargebacks import chargeback_record

    order = make_order(s1, purchased_at=recent(48))
    chargeback = chargeback_record(order=order, actor=agent, amount="59.99", opened_at=recent(1))
    url = reverse("admin:orders_chargeback_lift_sanction", args=[chargeback.pk])
    assert client_for(agent).get(url).status_code == 403
    assert client_for(agent).post(url, {"note": "please"}).status_code == 403
    change = client_for(manager).get(reverse("admin:orders_chargeback_change", args=[chargeback.pk]))
    assert url in change.content.decode()
    client = client_for(manager)
    response = client.post(url, {"note": "  "})
    assert response.status_code == 200 and "note" in response.context["form"].errors
    response = client.post(url, {"note": "Bank confirmed it was a mistake."}, follow=True)
    chargeback.refresh_from_db()
    assert chargeback.sanction_lifted_at is not None and chargeback.sanction_lifted_by == manager
    assert Subscription.objects.get(order=order).status == "active"
    assert any("Sanction lifted" in m for m in messages_of(response))
    response = client.post(url, {"note": "again"})
    assert "already lifted" in response.content.decode()


def test_it_keeps_a_chargeback_sanction_on_the_customer_when_the_customer_is_edited(s1, agent, manager):
    from cases.services.chargebacks import chargeback_record

    order = make_order(s1, purchased_at=recent(48))
    chargeback_record(order=order, actor=agent, amount="59.99", opened_at=recent(1))
    customer = Customer.objects.get(pk=order.customer_id)
    reason = customer.restriction_reason
    assert customer.restricted_from_ordering and reason
    url = reverse("admin:orders_customer_change", args=[customer.pk])
    response = client_for(manager).get(url)
    assert "restricted_from_ordering" not in response.context["adminform"].form.fields
    data = {"storefront": str(s1.pk), "email": customer.email, "name": "Renamed", "phone": "",
            "restriction_reason": ""}
    assert client_for(manager).post(url, data).status_code == 302
    customer.refresh_from_db()
    assert customer.name == "Renamed"
    assert customer.restricted_from_ordering and customer.restriction_reason == reason


@pytest.mark.clause("S0-FIX-FIRST", "S0-FIX-48H", "S1-NOT-ELIGIBLE", "S0-NO-CHANGE")
def test_it_edits_policy_versions_with_exclusions_checked_by_the_model(s0, manager, agent):
    version = PolicyVersion.objects.get(storefront=s0)
    url = reverse("admin:policies_policyversion_change", args=[version.pk])
    response = client_for(manager).get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Technical issues (S0-FIX-FIRST, S0-FIX-48H)" in html and "Exclusions (S0-NO-*, S1-NOT-ELIGIBLE)" in html
    form = response.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data = {key: ("on" if value is True else value) for key, value in data.items() if value is not False}
    start = data.pop("effective_from")
    data.update({"effective_from_0": f"{start:%Y-%m-%d}", "effective_from_1": f"{start:%H:%M:%S}"})
    assert sorted(data["exclusions"]) == sorted(version.exclusions)  # ticked reasons, not a JSON object
    data["exclusions"] = ["eating_pizza"]
    response = client_for(manager).post(url, data)
    assert response.status_code == 200
    assert "Select a valid choice. eating_pizza is not one of the available choices." in response.content.decode()
    data["exclusions"] = ["technical_issue"]  # file 000 has no clause that excludes it
    response = client_for(manager).post(url, data)
    assert response.status_code == 200
    assert "No clause of this policy excludes: Technical issue." in response.content.decode()
    data["exclusions"] = ["changed_mind"]
    data["fix_window_hours"] = "24"
    response = client_for(manager).post(url, data)
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.exclusions == {"changed_mind": "S0-NO-CHANGE"} and version.fix_window_hours == 24
    assert client_for(agent).post(url, data).status_code == 403


def test_it_keeps_case_events_and_payouts_read_only(s0, agent, manager):
    case = open_case(s0, reason="other")
    services.case_approve(case=case, actor=agent)
    services.case_pay(case=case, actor=manager, reference="re_9")
    event = CaseEvent.objects.filter(case=case).first()
    payout = Payout.objects.get(case=case)
    client = client_for(manager)
    assert client.get(reverse("admin:cases_caseevent_changelist")).status_code == 200
    assert client.get(reverse("admin:cases_caseevent_add")).status_code == 403
    assert client.get(reverse("admin:cases_caseevent_delete", args=[event.pk])).status_code == 403
    response = client.post(reverse("admin:cases_caseevent_change", args=[event.pk]), {"comment": "rewritten"})
    assert response.status_code == 403
    assert CaseEvent.objects.get(pk=event.pk).comment == event.comment
    assert client.get(reverse("admin:cases_payout_change", args=[payout.pk])).status_code == 200
    assert client.post(reverse("admin:cases_payout_change", args=[payout.pk]), {"amount": "1"}).status_code == 403
    assert client.get(reverse("admin:cases_payout_add")).status_code == 403
