"""manage.py connect_storefront: a storefront's WooCommerce or Stripe connection, set whole or removed."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from orders.models import Storefront
from shop.connections import STRIPE_API, ConnectionRefused, connect, disconnect, refund_route
from shop.models import Connection

WOO_OPTIONS = {"woocommerce": "--woocommerce", "consumer_key": "--consumer-key", "consumer_secret": "--consumer-secret",
               "webhook_secret": "--webhook-secret"}
STRIPE_OPTIONS = {"stripe_key": "--stripe-key", "stripe_webhook_secret": "--stripe-webhook-secret",
                  "stripe_api": "--stripe-api"}
# The connection's secret names, as the options that give them.
SECRET_OPTIONS = {
    Connection.Kind.WOOCOMMERCE: {"consumer_key": "--consumer-key", "consumer_secret": "--consumer-secret",
                                  "webhook_secret": "--webhook-secret", "url": "--woocommerce"},
    Connection.Kind.STRIPE: {"secret_key": "--stripe-key", "webhook_secret": "--stripe-webhook-secret",
                             "url": "--stripe-api"},
}


def bad(option: str, message: str) -> CommandError:
    return CommandError(f"{option}: {message}", returncode=2)


class Command(BaseCommand):
    help = ("Connect a storefront to its WooCommerce shop or to Stripe (each call sets one connection whole, "
            "secrets encrypted), or remove a connection with --disconnect.")

    def add_arguments(self, parser):
        parser.add_argument("slug", metavar="SLUG", help="the storefront to connect")
        parser.add_argument("--woocommerce", metavar="URL", help="the shop's address, https:// (WooCommerce)")
        parser.add_argument("--consumer-key", metavar="CK", help="the REST API consumer key (ck_…), read/write")
        parser.add_argument("--consumer-secret", metavar="CS", help="the REST API consumer secret (cs_…)")
        parser.add_argument("--webhook-secret", metavar="WS", help="the secret set on the shop's order webhooks")
        parser.add_argument("--stripe-key", metavar="SK", help="Stripe's secret API key (sk_… or rk_…)")
        parser.add_argument("--stripe-webhook-secret", metavar="WHSEC", help="the Stripe endpoint's signing secret")
        parser.add_argument("--stripe-api", metavar="URL", help=f"Stripe's API address (default {STRIPE_API})")
        parser.add_argument("--disconnect", choices=[Connection.Kind.WOOCOMMERCE, Connection.Kind.STRIPE],
                            help="remove the storefront's connection of this kind and its secrets")

    @sensitive_variables()
    def handle(self, *args, **options):
        slug = options["slug"]
        storefront = Storefront.objects.filter(slug=slug).first()
        if storefront is None:
            raise bad("SLUG", f"no storefront {slug!r}")
        woo = [flag for name, flag in WOO_OPTIONS.items() if options[name] is not None]
        stripe = [flag for name, flag in STRIPE_OPTIONS.items() if options[name] is not None]
        if options["disconnect"]:
            if woo or stripe:
                raise bad("--disconnect", f"give it alone, not with {(woo + stripe)[0]}")
            try:
                disconnect(storefront=storefront, kind=options["disconnect"])
            except ConnectionRefused as error:
                raise bad(error.option, error.message) from None
            self.stdout.write(f"{slug}: {options['disconnect']} connection removed. {self._route(storefront)}")
            return
        if woo and stripe:
            raise bad(stripe[0], "one call sets one connection: give the WooCommerce options or the Stripe ones")
        if not woo and not stripe:
            raise bad("SLUG", "say what to connect: --woocommerce URL --consumer-key CK --consumer-secret CS "
                              "--webhook-secret WS, or --stripe-key SK --stripe-webhook-secret WHSEC, "
                              "or --disconnect woocommerce|stripe")
        if woo:
            kind, url = Connection.Kind.WOOCOMMERCE, options["woocommerce"]
            if url is None:
                raise bad("--woocommerce", "missing: the shop's URL (https://shop.example.com)")
            secrets = {"consumer_key": options["consumer_key"], "consumer_secret": options["consumer_secret"],
                       "webhook_secret": options["webhook_secret"]}
        else:
            kind, url = Connection.Kind.STRIPE, options["stripe_api"] or STRIPE_API
            secrets = {"secret_key": options["stripe_key"], "webhook_secret": options["stripe_webhook_secret"]}
        try:
            connection = connect(storefront=storefront, kind=kind, url=url, secrets=secrets,
                                 by="manage.py connect_storefront")
        except ConnectionRefused as error:
            raise bad(SECRET_OPTIONS[kind].get(error.option, error.option), error.message) from None
        self.stdout.write(f"{slug}: connected to {connection.get_kind_display()} at {connection.url}. "
                          f"{self._route(storefront)}")
        if kind == Connection.Kind.WOOCOMMERCE:
            hook = settings.SITE_URL.rstrip("/") + reverse("shop:woocommerce_delivery", args=[slug])
            self.stdout.write(f"Webhook delivery URL: {hook} (topics order.created, order.updated, order.restored, "
                              "order.deleted; the same secret as --webhook-secret)")

    @staticmethod
    def _route(storefront: Storefront) -> str:
        route = refund_route(storefront)
        if route is None:
            return "Refunds are paid by hand."
        return f"Refunds go through {Connection.Kind(route).label}."
