"""manage.py settle_refunds: the refunds sent to shops whose answer is not known yet, settled now (docs/shop.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from shop.refunds import settle_refunds


class Command(BaseCommand):
    help = ("Settle the refunds sent to connected shops that have not answered for sure: read each order's "
            "refunds, pay or fail the case when the shop has answered, and send a refund again (with the same key) "
            "only when the shop surely does not have it. Safe to run at any time, twice, or in two processes at once.")

    def handle(self, *args, **options):
        result = settle_refunds()
        for step in result.steps:
            # Settled ones always; the ones still waiting, and why, when asked (-v 2).
            if step.outcome != "waiting" or options["verbosity"] > 1:
                self.stdout.write(f"Refund request {step.request_id}: {step.outcome}, {step.words}")
        self.stdout.write(result.summary)
