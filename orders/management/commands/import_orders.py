"""manage.py import_orders: a shop's orders from its export (docs/reports.md). A dry run unless --commit."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from orders.imports.engine import NEW, SKIPPED, UPDATED, import_orders
from orders.models import Storefront


class Command(BaseCommand):
    help = "Import orders from a WooCommerce REST API orders array or our CSV; nothing is written without --commit."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the orders file: a WooCommerce JSON array or a CSV (see --format)")
        parser.add_argument("--storefront", required=True, metavar="SLUG", help="the storefront the orders belong to")
        parser.add_argument("--format", default="woocommerce", help="woocommerce (default) or csv")
        parser.add_argument("--commit", action="store_true", help="write the orders (default: a dry run)")

    def handle(self, *args, **options):
        fmt = options["format"]
        if fmt not in ("woocommerce", "csv"):
            raise CommandError(f"--format: {fmt!r} is not one of woocommerce, csv", returncode=2)
        storefront = Storefront.objects.filter(slug=options["storefront"]).first()
        if storefront is None:
            raise CommandError(f"--storefront: no storefront {options['storefront']!r}", returncode=2)
        text = _read(options["file"])

        result = import_orders(storefront=storefront, text=text, fmt=fmt, commit=options["commit"])
        for error in result.errors:
            self.stdout.write(f"error: {error}")
        for warning in result.warnings:
            self.stdout.write(f"warning: {warning}")
        if options["verbosity"] > 1:
            for outcome in result.outcomes:
                if outcome.kind in (NEW, UPDATED, SKIPPED):
                    detail = outcome.note or ", ".join(outcome.changes)
                    self.stdout.write(f"{outcome.record.position}: order {outcome.record.number} {outcome.kind}"
                                      + (f" ({detail})" if detail else ""))
        if not result.errors and not options["commit"]:
            self.stdout.write("Dry run: nothing written. Run again with --commit to write these orders.")
        self.stdout.write(result.summary)
        if result.errors:
            raise SystemExit(1)


def _read(path: str) -> str:
    try:
        with open(path, "rb") as source:
            data = source.read()
    except OSError as error:
        raise CommandError(f"FILE: cannot read {path}: {(error.strerror or 'unreadable').lower()}", returncode=2) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise CommandError(f"FILE: {path} is not UTF-8 text (line {line} holds bytes that are not)",
                           returncode=2) from None
