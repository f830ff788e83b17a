"""The connections' admin (secrets write-only, for those who may manage connections), the call log and
the orders kept aside (for managers), and the order page's link to its calls."""

from __future__ import annotations

import json
import logging
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse

from orders.models import Order
from shop.models import Connection, KeptAsideOrder, ShopCall
from tests.admin.conftest import client_for
from tests.conftest import make_user
from tests.shop.conftest import deliver, sign
from tests.shop.fake_woocommerce import woo_order

CK, CS, WS = "ck_adm_7f6e5d4c3b2a1900", "cs_adm_0011223344556677", "whs_adm_8899aabbccddeeff"
NEW_CS = "cs_adm_rotated_ffeeddccbbaa"


@pytest.fixture
def root(db):
    return make_user("root", is_superuser=True)


def add_connection(client, **extra):
    data = {"storefront": "", "kind": "woocommerce", "url": "https://shop.example.com", "consumer_key": CK,
            "consumer_secret": CS, "webhook_secret": WS, "stripe_key": "", "stripe_webhook_secret": "", **extra}
    return client.post(reverse("admin:shop_connection_add"), data)


def test_it_connects_a_storefront_from_the_admin_and_keeps_secrets_left_empty(s0, root):
    client = client_for(root)
    response = add_connection(client, storefront=s0.pk)
    assert response.status_code == 302
    connection = Connection.objects.get()
    assert connection.secrets() == {"consumer_key": CK, "consumer_secret": CS, "webhook_secret": WS}
    assert connection.connected_by == "root"
    change = reverse("admin:shop_connection_change", args=[connection.pk])
    response = client.post(change, {"url": "https://shop.example.com/", "consumer_key": "", "consumer_secret": NEW_CS,
                                    "webhook_secret": ""})
    assert response.status_code == 302
    assert Connection.objects.get().secrets() == {"consumer_key": CK, "consumer_secret": NEW_CS, "webhook_secret": WS}


def test_it_refuses_plain_http_and_missing_secrets_on_the_form(s0, root):
    client = client_for(root)
    response = add_connection(client, storefront=s0.pk, url="http://shop.example.com", webhook_secret="")
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "url" in form.errors and "webhook_secret" in form.errors
    assert not Connection.objects.exists()


def test_a_secret_never_appears_on_any_page_in_the_command_output_or_the_call_log(s0, root, caplog, fake, plans):
    caplog.set_level(logging.DEBUG)
    client = client_for(root)
    out = StringIO()
    call_command("connect_storefront", s0.slug, "--woocommerce", fake.url, "--consumer-key", fake.consumer_key,
                 "--consumer-secret", fake.consumer_secret, "--webhook-secret", "conftest-not-used", stdout=out)
    connection = Connection.objects.get()
    # The admin sets the webhook secret; a form sent back with an error must not echo the ones typed.
    change = reverse("admin:shop_connection_change", args=[connection.pk])
    client.post(change, {"url": fake.url, "consumer_key": "", "consumer_secret": "", "webhook_secret": WS})
    with_error = client.post(change, {"url": "http://shop.example.com", "consumer_key": CK, "consumer_secret": CS,
                                      "webhook_secret": WS})
    assert with_error.status_code == 200

    body = json.dumps(woo_order(5101)).encode()
    deliver(body, signature=sign(body, secret=WS))
    fake.put(woo_order(5102))
    call_command("sync_orders", s0.slug, "--since", "2026-01-01T00:00:00", stdout=out)
    fake.fail_next(401)
    with pytest.raises(CommandError) as refused:
        call_command("sync_orders", s0.slug, "--since", "2026-01-01T00:00:00", stdout=out)
    order = Order.objects.get(shop_order_id=5101)

    pages = [
        reverse("admin:index"), reverse("admin:shop_connection_changelist"), change,
        reverse("admin:shop_connection_history", args=[connection.pk]),
        reverse("admin:shop_connection_delete", args=[connection.pk]), reverse("admin:shop_connection_add"),
        reverse("admin:shop_shopcall_changelist"), reverse("admin:shop_keptasideorder_changelist"),
        reverse("admin:orders_order_change", args=[order.pk]),
    ] + [reverse("admin:shop_shopcall_change", args=[pk]) for pk in ShopCall.objects.values_list("pk", flat=True)]
    html = "".join(client.get(page).content.decode() for page in pages) + with_error.content.decode()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    calls = "\n".join(str(row) for row in ShopCall.objects.values_list())
    told = out.getvalue() + str(refused.value) + logged + calls
    secrets = [WS, fake.consumer_key, fake.consumer_secret, CK, CS, connection.sealed_secrets]
    assert [s for s in secrets if s in html] == [] and [s for s in secrets if s in told] == []
    assert "stored encrypted" in html


def test_only_those_who_may_manage_connections_see_them(s0, root, manager):
    Connection.objects.create(storefront=s0, kind="woocommerce", url="https://shop.example.com",
                              sealed_secrets="x", connected_by="test")
    assert client_for(manager).get(reverse("admin:shop_connection_changelist")).status_code == 403
    assert "Shop connections" not in client_for(manager).get(reverse("admin:index")).content.decode()
    granted = make_user("gina", "Support manager")
    granted.user_permissions.add(*Permission.objects.filter(content_type__app_label="shop",
                                                            codename__in=["manage_connections", "view_connection"]))
    assert client_for(granted).get(reverse("admin:shop_connection_changelist")).status_code == 200
    viewer = make_user("vic")
    viewer.user_permissions.add(Permission.objects.get(codename="view_connection"))
    assert client_for(viewer).get(reverse("admin:shop_connection_changelist")).status_code == 403
    assert client_for(root).get(reverse("admin:shop_connection_changelist")).status_code == 200


def test_managers_read_the_call_log_from_the_order_page_and_the_kept_aside_orders_from_the_index(woo, manager):
    deliver(woo_order(5101))
    deliver(woo_order(5102, product_id=777, name="Lifetime"))
    client = client_for(manager)
    order = Order.objects.get(shop_order_id=5101)
    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    calls = reverse("admin:shop_shopcall_changelist") + f"?order__id__exact={order.pk}"
    assert calls.replace("&", "&amp;") in page or calls in page
    listed = client.get(calls)
    assert listed.status_code == 200 and list(listed.context["cl"].result_list) == list(ShopCall.objects.filter(order=order))
    index = client.get(reverse("admin:index")).content.decode()
    assert "Shop orders kept aside" in index and "Shop call log" in index
    kept = client.get(reverse("admin:shop_keptasideorder_changelist") + "?waiting=yes")
    assert kept.status_code == 200 and "no plan of this storefront matches product 777" in kept.content.decode()


def test_a_manager_takes_kept_aside_orders_in_again_once_the_cause_is_fixed(woo, manager, plans):
    deliver(woo_order(5102, product_id=777, name="Lifetime"))
    kept = KeptAsideOrder.objects.get()
    plans["1m"].external_product_id = "777"
    plans["1m"].save()
    response = client_for(manager).post(reverse("admin:shop_keptasideorder_changelist"),
                                        {"action": "take_in_again", "_selected_action": [kept.pk]})
    assert response.status_code == 302
    kept.refresh_from_db()
    assert kept.taken_in_at is not None and kept.order.plan == plans["1m"]
