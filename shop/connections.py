"""Setting and removing a storefront's connections, and which one its refunds go through.

One call sets one connection whole: its address, its options and all its secrets. The same service
serves ``manage.py connect_storefront`` and the admin page of users who may manage connections.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from cases.models import RefundRequest
from orders.models import Storefront
from shop.addresses import BadAddress, connection_url
from shop.keys import seal
from shop.models import Connection

STRIPE_API = "https://api.stripe.com"
MAX_SECRET = 500


class ConnectionRefused(ValueError):
    """A connection that cannot be set or removed: ``option`` names what is wrong, ``message`` says how."""

    def __init__(self, option: str, message: str):
        super().__init__(f"{option}: {message}")
        self.option = option
        self.message = message


@sensitive_variables("secrets", "cleaned")
def connect(*, storefront: Storefront, kind: str, url: str, secrets: dict[str, str], by: str,
            options: dict | None = None, url_option: str = "url", now: datetime | None = None) -> Connection:
    """Set ``storefront``'s connection of ``kind`` whole: address, options and every secret.

    A connection set again with the same address keeps its sync's resume point; another address is
    another shop, whose sync starts at the time of this call.
    """
    now = now or timezone.now()
    if kind not in Connection.SECRETS:
        raise ConnectionRefused("kind", f"{kind!r} is not one of {', '.join(Connection.SECRETS)}")
    try:
        address = connection_url(url)
    except BadAddress as error:
        raise ConnectionRefused(url_option, str(error)) from None
    cleaned = {}
    for name in Connection.SECRETS[kind]:
        value = (secrets.get(name) or "").strip()
        if not value:
            raise ConnectionRefused(name, "missing: a connection is set whole, with every secret")
        if len(value) > MAX_SECRET or not value.isprintable():
            raise ConnectionRefused(name, f"not a secret a shop gives (printable, at most {MAX_SECRET} characters)")
        cleaned[name] = value
    with transaction.atomic():
        connection = Connection.objects.select_for_update().filter(storefront=storefront, kind=kind).first()
        if connection is None:
            connection = Connection(storefront=storefront, kind=kind, connected_at=now)
        elif connection.url != address:
            connection.connected_at = now
            connection.sync_resume_at = None
        connection.url = address
        connection.options = dict(options or {})
        connection.sealed_secrets = seal(cleaned)
        connection.secrets_set_at = now
        connection.connected_by = by[:150]
        connection.save()
    return connection


def disconnect(*, storefront: Storefront, kind: str) -> None:
    """Remove ``storefront``'s connection of ``kind`` and its secrets; its call log stays."""
    with transaction.atomic():
        connection = Connection.objects.select_for_update().filter(storefront=storefront, kind=kind).first()
        if connection is None:
            raise ConnectionRefused("--disconnect", f"{storefront.slug} has no {kind} connection")
        waiting = refunds_waiting(connection)
        if waiting:
            raise ConnectionRefused("--disconnect", f"{waiting} refund(s) sent through {connection.get_kind_display()} "
                                                    "are still waiting for its answer")
        connection.delete()


def refunds_waiting(connection: Connection) -> int:
    """Refunds sent through ``connection`` that it has not answered for sure."""
    return RefundRequest.objects.filter(order__storefront_id=connection.storefront_id, channel=connection.kind,
                                        status=RefundRequest.Status.SENDING).count()


def refund_route(storefront: Storefront) -> str | None:
    """Where ``storefront``'s refunds go: WooCommerce when connected (Stripe then brings disputes and its
    own refunds' events), else Stripe when connected to it alone, else nowhere (paid by hand)."""
    kinds = set(Connection.objects.filter(storefront=storefront).values_list("kind", flat=True))
    if Connection.Kind.WOOCOMMERCE in kinds:
        return Connection.Kind.WOOCOMMERCE
    if Connection.Kind.STRIPE in kinds:
        return Connection.Kind.STRIPE
    return None
