"""connect_storefront and the connections' secrets: set whole, encrypted, rotated, never printed."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from orders.models import Storefront
from shop.connections import refund_route
from shop.keys import SecretsUnreadable
from shop.models import Connection
from tests.test_settings import PRODUCTION, run_manage

CK, CS, WS = "ck_live_5d1f0a9b8c7e6d5f4a3b", "cs_live_9a8b7c6d5e4f3a2b1c0d", "whs_live_0a1b2c3d4e5f"
SK, WHSEC = "sk_live_51Habcdefghijklmnop", "whsec_0123456789abcdefghij"
WOO = ["--woocommerce", "https://shop.example.com/", "--consumer-key", CK, "--consumer-secret", CS,
       "--webhook-secret", WS]


def connect_cmd(*args: str) -> str:
    out = StringIO()
    call_command("connect_storefront", *args, stdout=out)
    return out.getvalue()


def refused(*args: str) -> str:
    with pytest.raises(CommandError) as error:
        connect_cmd(*args)
    assert error.value.returncode == 2
    return str(error.value)


def test_it_connects_woocommerce_with_every_secret_encrypted_and_none_printed(s0):
    out = connect_cmd("iptv-smarters-pro", *WOO)
    connection = Connection.objects.get(storefront=s0)
    assert connection.kind == "woocommerce" and connection.url == "https://shop.example.com"
    assert connection.secrets() == {"consumer_key": CK, "consumer_secret": CS, "webhook_secret": WS}
    for secret in (CK, CS, WS):
        assert secret not in connection.sealed_secrets and secret not in out
    assert "Refunds go through WooCommerce" in out
    assert "/hooks/woocommerce/iptv-smarters-pro/" in out


def test_each_call_sets_the_connection_whole(s0):
    connect_cmd("iptv-smarters-pro", *WOO)
    connect_cmd("iptv-smarters-pro", "--woocommerce", "https://shop.example.com", "--consumer-key", "ck_2",
                "--consumer-secret", "cs_2", "--webhook-secret", "ws_2")
    connection = Connection.objects.get(storefront=s0)
    assert connection.secrets() == {"consumer_key": "ck_2", "consumer_secret": "cs_2", "webhook_secret": "ws_2"}
    assert Connection.objects.count() == 1


def test_refunds_go_through_woocommerce_when_both_are_connected_and_stripe_when_alone(s0):
    connect_cmd("iptv-smarters-pro", "--stripe-key", SK, "--stripe-webhook-secret", WHSEC)
    assert refund_route(s0) == "stripe"
    assert Connection.objects.get(kind="stripe").url == "https://api.stripe.com"
    connect_cmd("iptv-smarters-pro", *WOO)
    assert refund_route(s0) == "woocommerce"
    out = connect_cmd("iptv-smarters-pro", "--disconnect", "woocommerce")
    assert "Refunds go through Stripe" in out and refund_route(s0) == "stripe"
    connect_cmd("iptv-smarters-pro", "--disconnect", "stripe")
    assert refund_route(s0) is None and not Connection.objects.exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:3000/shop", "http://127.3.2.1",
                                 "http://[::1]:8000"])
def test_plain_http_is_taken_on_loopback_addresses(s0, url):
    connect_cmd("iptv-smarters-pro", "--woocommerce", url, "--consumer-key", CK, "--consumer-secret", CS,
                "--webhook-secret", WS)
    assert Connection.objects.get().url == url.rstrip("/")


def test_a_stripe_api_address_is_checked_the_same_way(s0):
    connect_cmd("iptv-smarters-pro", "--stripe-key", SK, "--stripe-webhook-secret", WHSEC, "--stripe-api",
                "http://127.0.0.1:12111")
    assert Connection.objects.get().url == "http://127.0.0.1:12111"
    assert refused("iptv-smarters-pro", "--stripe-key", SK, "--stripe-webhook-secret", WHSEC, "--stripe-api",
                   "http://stripe.example.com").startswith("--stripe-api:")


@pytest.mark.parametrize(("args", "named"), [
    (["no-such-shop", *WOO], "SLUG:"),
    (["iptv-smarters-pro"], "SLUG:"),
    (["iptv-smarters-pro", "--woocommerce", "http://shop.example.com", "--consumer-key", CK, "--consumer-secret", CS,
      "--webhook-secret", WS], "--woocommerce:"),
    (["iptv-smarters-pro", "--woocommerce", "http://10.0.0.5", "--consumer-key", CK, "--consumer-secret", CS,
      "--webhook-secret", WS], "--woocommerce:"),
    (["iptv-smarters-pro", "--woocommerce", "https://ck:cs@shop.example.com", "--consumer-key", CK,
      "--consumer-secret", CS, "--webhook-secret", WS], "--woocommerce:"),
    (["iptv-smarters-pro", "--woocommerce", "https://shop.example.com", "--consumer-key", CK, "--webhook-secret", WS],
     "--consumer-secret:"),
    (["iptv-smarters-pro", "--consumer-key", CK, "--consumer-secret", CS, "--webhook-secret", WS], "--woocommerce:"),
    (["iptv-smarters-pro", "--stripe-key", SK], "--stripe-webhook-secret:"),
    (["iptv-smarters-pro", *WOO, "--stripe-key", SK], "--stripe-key:"),
    (["iptv-smarters-pro", "--disconnect", "woocommerce", "--consumer-key", CK], "--disconnect:"),
    (["iptv-smarters-pro", "--disconnect", "stripe"], "--disconnect:"),
])
def test_a_bad_argument_is_named_with_status_2_and_nothing_is_set(s0, args, named):
    message = refused(*args)
    assert message.startswith(named), message
    assert CS not in message and "ck:cs" not in message
    assert not Connection.objects.exists()


def test_the_command_line_exits_2_naming_the_argument():
    result = run_manage("connect_storefront", "iptv-smarters-pro", "--disconnect", "paypal")
    assert result.returncode == 2 and "--disconnect" in result.stderr


def test_rotation_adds_a_key_first_reencrypts_then_drops_the_old_one(s0, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CONNECTION_KEYS = [old]
    connect_cmd("iptv-smarters-pro", *WOO)
    sealed = Connection.objects.get().sealed_secrets

    settings.CONNECTION_KEYS = [new, old]
    assert Connection.objects.get().secrets()["consumer_secret"] == CS  # the old key still opens it
    out = StringIO()
    call_command("rotate_connection_keys", stdout=out)
    assert out.getvalue().strip() == "1 re-encrypted, 0 already with the first key, 0 unreadable"
    assert Connection.objects.get().sealed_secrets != sealed

    settings.CONNECTION_KEYS = [new]
    assert Connection.objects.get().secrets() == {"consumer_key": CK, "consumer_secret": CS, "webhook_secret": WS}
    out = StringIO()
    call_command("rotate_connection_keys", stdout=out)
    assert out.getvalue().strip() == "0 re-encrypted, 1 already with the first key, 0 unreadable"


def test_secrets_no_key_opens_are_told_not_guessed(s0, settings):
    settings.CONNECTION_KEYS = [Fernet.generate_key().decode()]
    connect_cmd("iptv-smarters-pro", *WOO)
    settings.CONNECTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SecretsUnreadable):
        Connection.objects.get().secrets()
    with pytest.raises(CommandError) as error:
        call_command("rotate_connection_keys", stdout=StringIO(), stderr=StringIO())
    assert error.value.returncode == 1


def test_locally_without_keys_a_key_derived_from_the_secret_key_is_used(s0, settings):
    settings.CONNECTION_KEYS = []
    connect_cmd("iptv-smarters-pro", *WOO)
    assert Connection.objects.get().secret("webhook_secret") == WS
    settings.SECRET_KEY = "another-local-secret-key-" + "x" * 40
    with pytest.raises(SecretsUnreadable):
        Connection.objects.get().secrets()


def test_production_refuses_to_run_without_connection_keys():
    without = {name: value for name, value in PRODUCTION.items() if name != "CONNECTION_KEYS"}
    result = run_manage("check", **without, CACHE_URL="redis://127.0.0.1:6379/2")
    assert result.returncode != 0 and "CONNECTION_KEYS is not set" in result.stderr
    result = run_manage("check", **without, CACHE_URL="redis://127.0.0.1:6379/2", CONNECTION_KEYS="short")
    assert result.returncode != 0 and "key 1 of CONNECTION_KEYS is not a Fernet key" in result.stderr
    assert "short" not in result.stderr


def test_a_storefront_row_is_never_deleted_by_a_disconnection(s0):
    connect_cmd("iptv-smarters-pro", *WOO)
    connect_cmd("iptv-smarters-pro", "--disconnect", "woocommerce")
    assert Storefront.objects.filter(pk=s0.pk).exists()
