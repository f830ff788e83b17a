"""A storefront connected to a fake WooCommerce shop on loopback, and the shop's webhook deliveries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client

from orders.models import Plan
from shop.connections import connect
from shop.models import Connection
from tests.conftest import make_user
from tests.shop.fake_woocommerce import FakeWooCommerce

WEBHOOK_SECRET = "whs-0f9e8d7c6b5a-webhook-secret"
HOOK = "/hooks/woocommerce/iptv-smarters-pro/"


@pytest.fixture
def plans(s0) -> dict[str, Plan]:
    def plan(months, devices, price, product=""):
        return Plan.objects.create(storefront=s0, name=f"{months} months", months=months, devices=devices,
                                   price=Decimal(price), external_product_id=product)

    return {"1m": plan(1, 1, "14.99", "11"), "3m": plan(3, 1, "34.99", "93"), "12m3d": plan(12, 3, "129.99", "41")}


@pytest.fixture
def fake():
    with FakeWooCommerce() as shop:
        yield shop


@pytest.fixture
def woo(s0, plans, fake) -> Connection:
    """iptv-smarters-pro connected to the fake shop (plain http: it is on loopback)."""
    return connect(storefront=s0, kind=Connection.Kind.WOOCOMMERCE, url=fake.url, by="test",
                   secrets={"consumer_key": fake.consumer_key, "consumer_secret": fake.consumer_secret,
                            "webhook_secret": WEBHOOK_SECRET})


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def deliver(order: dict | bytes, *, topic: str = "order.updated", signature: str | None = "sign",
            path: str = HOOK, delivery: str = "d-1", client: Client | None = None):
    """POST one delivery as WooCommerce sends it; ``signature="sign"`` signs it with the webhook secret."""
    body = order if isinstance(order, bytes) else json.dumps(order).encode()
    headers = {"HTTP_X_WC_WEBHOOK_TOPIC": topic, "HTTP_X_WC_WEBHOOK_RESOURCE": topic.split(".")[0],
               "HTTP_X_WC_WEBHOOK_EVENT": topic.split(".")[-1], "HTTP_X_WC_WEBHOOK_ID": "7",
               "HTTP_X_WC_WEBHOOK_DELIVERY_ID": delivery, "HTTP_X_WC_WEBHOOK_SOURCE": "https://shop.example.com/"}
    if signature is not None:
        headers["HTTP_X_WC_WEBHOOK_SIGNATURE"] = sign(body) if signature == "sign" else signature
    return (client or Client()).post(path, body, content_type="application/json", **headers)


@pytest.fixture
def people(db) -> dict[str, User]:
    """An agent who approves and a manager who pays (H-FOUR-EYES keeps them apart)."""
    return {"agent": make_user("alice", "Support agent"), "manager": make_user("maria", "Support manager")}
