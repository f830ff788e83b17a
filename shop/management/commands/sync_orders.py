"""manage.py sync_orders: the orders a storefront's webhooks missed, from its shop (docs/shop.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from orders.imports.records import parse_time
from shop.models import Connection
from shop.sync import sync_orders, sync_start
from shop.woocommerce import ShopError


class Command(BaseCommand):
    help = ("Fetch the orders changed in a storefront's WooCommerce shop since the last run (less a minute) "
            "and take them in as webhook deliveries are.")

    def add_arguments(self, parser):
        parser.add_argument("slug", metavar="SLUG", help="the storefront whose shop is read")
        parser.add_argument("--since", metavar="ISO_TIME",
                            help="read the orders changed after this time (UTC without an offset) instead of "
                                 "where the last run left off")

    def handle(self, *args, **options):
        slug = options["slug"]
        connection = (Connection.objects.select_related("storefront")
                      .filter(storefront__slug=slug, kind=Connection.Kind.WOOCOMMERCE).first())
        if connection is None:
            raise CommandError(f"SLUG: no storefront {slug!r} connected to WooCommerce "
                               "(manage.py connect_storefront SLUG --woocommerce URL ...)", returncode=2)
        since = None
        if options["since"] is not None:
            try:
                since = parse_time(options["since"])
            except (TypeError, ValueError, OverflowError):
                raise CommandError(f"--since: {options['since']!r} is not an ISO 8601 time", returncode=2) from None
        if options["verbosity"] > 1:
            self.stdout.write(f"Orders changed after {sync_start(connection, since).isoformat()}")
        try:
            result = sync_orders(connection=connection, since=since)
        except ShopError as error:
            raise CommandError(str(error), returncode=1) from None
        if options["verbosity"] > 1:
            for order in result.taken.orders:
                self.stdout.write(order.words())
        self.stdout.write(result.summary)
