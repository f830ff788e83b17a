"""The order admin: what stays editable once the policy has decided on an order, and the list's cost."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.services.chargebacks import chargeback_record
from tests.admin.conftest import client_for, open_case, recent
from tests.conftest import make_order

POLICY_INPUTS = {"amount", "currency", "payment_method", "purchased_at", "storefront", "plan", "customer", "number"}


def _order_page(user, order):
    response = client_for(user).get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 200
    subscription_formset = next(
        f for f in response.context["inline_admin_formsets"] if f.opts.model._meta.model_name == "subscription"
    )
    return response.context["adminform"].form, subscription_formset.formset.forms[0]


def test_it_lets_a_manager_correct_an_order_nothing_rests_on_yet(s0, manager):
    form, subscription_form = _order_page(manager, make_order(s0))
    assert POLICY_INPUTS <= set(form.fields)
    assert "delivered_at" in subscription_form.fields


def test_it_freezes_what_the_policy_read_once_an_order_has_a_case(s0, manager):
    case = open_case(s0, reason="other")
    form, subscription_form = _order_page(manager, case.order)
    assert not POLICY_INPUTS & set(form.fields)
    assert "processor_reference" in form.fields
    assert "delivered_at" not in subscription_form.fields


def test_it_freezes_what_the_policy_read_once_an_order_has_a_chargeback(s1, agent, manager):
    order = make_order(s1, purchased_at=recent(48))
    chargeback_record(order=order, actor=agent, amount="59.99", opened_at=recent(1))
    form, subscription_form = _order_page(manager, order)
    assert not POLICY_INPUTS & set(form.fields)
    assert "delivered_at" not in subscription_form.fields


def test_it_ignores_a_posted_amount_on_an_order_with_a_case(s0, manager):
    case = open_case(s0, reason="other")
    order = case.order
    url = reverse("admin:orders_order_change", args=[order.pk])
    response = client_for(manager).get(url)
    data = {}
    for formset in [response.context["adminform"].form, *[i.formset for i in response.context["inline_admin_formsets"]]]:
        if hasattr(formset, "management_form"):
            for form in [formset.management_form, *formset.forms]:
                data.update({form.add_prefix(n): form[n].value() for n in form.fields if form[n].value() is not None})
        else:
            data.update({n: formset[n].value() for n in formset.fields if formset[n].value() is not None})
    data.update({"amount": "1.00", "currency": "EUR", "processor_reference": "ch_fixed"})
    assert client_for(manager).post(url, data).status_code == 302
    order.refresh_from_db()
    assert order.processor_reference == "ch_fixed"
    assert (str(order.amount), order.currency) == ("59.99", "USD")


def _list_queries(user) -> int:
    client = client_for(user)
    client.get(reverse("admin:orders_order_changelist"))  # session and permission caches warm
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:orders_order_changelist"))
    assert response.status_code == 200
    return len(queries)


def test_it_lists_orders_in_a_number_of_queries_that_does_not_grow_with_the_orders(s0, manager):
    for _ in range(3):
        make_order(s0)
    few = _list_queries(manager)
    for _ in range(27):
        make_order(s0)
    assert _list_queries(manager) == few
