"""Personas and builders shared by the whole suite.

Storefronts, policies and groups come from the migrations, as in production. Builders create real
rows; nothing of ours is mocked.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import override_settings
from hypothesis import settings as hypothesis_settings
from PIL import Image

from core.errors import CaseActionError
from orders.models import Customer, Order, Plan, Storefront, Subscription
from policies.models import PolicyVersion

# CI replays the same examples every run: a red build names a failure anyone can reproduce.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.postgres`` tests (row locks, real concurrency) skip on SQLite; CI runs them."""
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (CI does)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def at(text: str) -> datetime:
    """A UTC datetime from '2026-01-01 10:00'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def make_user(username: str, *groups: str, **extra) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username, is_staff=True, **extra)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return User.objects.get(pk=user.pk)  # fresh instance: no stale permission cache


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    """Passwords play no part in these tests; the default hasher costs about a second a user."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def fresh_storefront_lookups():
    """Each process keeps the portal's storefronts for a minute; a test's rolled-back rows must not stay."""
    from portal import shops

    shops.forget()
    yield
    shops.forget()


@pytest.fixture
def s0(db) -> Storefront:
    """IPTV Smarters Pro: docs/policies.md file 000 (48 h window, fix first, proration)."""
    return Storefront.objects.get(slug="iptv-smarters-pro")


@pytest.fixture
def s1(db) -> Storefront:
    """Smarters Pro: docs/policies.md file 001 (used on delivery, manager discretion)."""
    return Storefront.objects.get(slug="smarters-pro")


@pytest.fixture
def march_version(s1) -> PolicyVersion:
    """S1-VERSIONING: a later smarters-pro text that also excludes server switches and pays faster."""
    first = PolicyVersion.objects.get(storefront=s1, version="2025-12-05")
    return PolicyVersion.objects.create(
        storefront=s1, version="2026-03-01", effective_from=at("2026-03-01 00:00"), code="S1",
        used_on_delivery=True, discretion_after_delivery=True,
        exclusions={**first.exclusions, "server_switch": "S1-NOT-ELIGIBLE"},
        arrival_card_min=2, arrival_card_max=5, arrival_card_worst=5,
        arrival_other_min=2, arrival_other_max=5, arrival_other_worst=5,
    )


@pytest.fixture
def agent(db) -> User:
    return make_user("alice", "Support agent")


@pytest.fixture
def agent2(db) -> User:
    return make_user("arthur", "Support agent")


@pytest.fixture
def manager(db) -> User:
    return make_user("maria", "Support manager")


@pytest.fixture
def manager2(db) -> User:
    return make_user("mike", "Support manager")


@pytest.fixture
def outsider(db) -> User:
    """Staff with no refund permissions at all."""
    return make_user("oscar")


_counter = {"n": 0}


def make_order(
    storefront: Storefront,
    *,
    amount: str | Decimal = "59.99",
    months: int = 3,
    devices: int = 1,
    payment_method: str = "card",
    purchased_at: datetime | None = None,
    delivered_at: datetime | None | str = "auto",
    refunded: str | Decimal = "0.00",
    email: str | None = None,
    currency: str = "USD",
) -> Order:
    """An order with its plan, customer and subscription.

    ``delivered_at="auto"`` delivers five minutes after purchase; ``None`` means never delivered.
    """
    _counter["n"] += 1
    n = _counter["n"]
    purchased_at = purchased_at or at("2026-01-01 10:00")
    customer, _ = Customer.objects.get_or_create(
        storefront=storefront, email=email or f"customer{n}@example.com", defaults={"name": f"Customer {n}"}
    )
    plan, _ = Plan.objects.get_or_create(
        storefront=storefront, months=months, devices=devices,
        defaults={"name": f"{months} months", "price": Decimal(amount), "currency": currency},
    )
    order = Order.objects.create(
        storefront=storefront, number=f"T{n:06d}", customer=customer, plan=plan, amount=Decimal(amount),
        currency=currency, payment_method=payment_method, purchased_at=purchased_at,
        refunded_amount=Decimal(refunded),
    )
    if delivered_at == "auto":
        delivered_at = purchased_at + timedelta(minutes=5)
    Subscription.objects.create(order=order, delivered_at=delivered_at)
    return order


def race(action: Callable[[int], object], threads: int = 8) -> tuple[list[object], list[CaseActionError]]:
    """Run ``action(i)`` in ``threads`` threads released together; their results and refusals.

    Anything other than a CaseActionError fails the test: a 500 in the making.
    """
    barrier = threading.Barrier(threads)
    done: list[object] = []
    refused: list[CaseActionError] = []
    crashed: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            result = action(i)
            with lock:
                done.append(result)
        except CaseActionError as error:
            with lock:
                refused.append(error)
        except BaseException as error:  # noqa: BLE001 (reported below, in the test's thread)
            with lock:
                crashed.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(worker.is_alive() for worker in workers), "a thread is stuck"
    assert crashed == [], crashed
    return done, refused


@pytest.fixture
def media(settings, tmp_path) -> Path:
    """Uploads go to a directory of the test's own, removed with it."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def image_bytes(fmt: str = "PNG", size=(64, 48), exif_orientation: int | None = None, noise: bool = False) -> bytes:
    """A real image of ``fmt``, optionally with an EXIF orientation or incompressible pixels."""
    if noise:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, color=(20, 120, 200))
        image.putpixel((0, 0), (255, 0, 0))
    out = BytesIO()
    extra = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        extra["exif"] = exif
    image.save(out, format=fmt, **extra)
    return out.getvalue()


def eventually(check, *, timeout: float = 10.0):
    """``check()``'s first truthy answer, asked again until ``timeout``: for work a live server does
    after its response has gone out (the portal's job and its e-mail without a broker)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)
