"""A shop's order objects taken in: stored, updated, left alone, or kept aside with the reason.

Webhook deliveries and sync pages both come here. Each object is read by the order import's own
reader (``orders.imports.records.woocommerce_records``) and written by its engine
(``import_shop_orders``), so an order reads the same whether it came in a file, a delivery or a
sync. What the shop adds: an order is matched by the shop's id and applied only when its
``date_modified_gmt`` is not older than the version stored; one that cannot be used is kept aside,
never dropped and never guessed; the shop's own refunds count toward the refunded total once, and
the order's open case is told of them (``cases.services.shop_refunds``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.models import Payout, RefundCase, RefundRequest
from cases.services.shop_refunds import case_note_shop_refunds
from cases.states import OPEN_STATES
from orders.imports.engine import (
    NEW,
    STALE,
    UPDATED,
    OwnRefunds,
    gc_paused,
    import_shop_orders,
)
from orders.imports.records import OrderRecord, PlanMatcher, woo_fields_read, woocommerce_records
from orders.imports.writes import batches
from orders.models import Order, Plan, Storefront
from shop.models import KeptAsideOrder

logger = logging.getLogger(__name__)

# Two deliveries of one new order (or of two orders of one new customer) at once: the second insert
# waits for the first, fails on the unique constraint, and is tried again, then finds the rows.
ATTEMPTS = 3
KEPT = "kept aside"


@dataclass
class TakenOrder:
    shop_id: int | None
    number: str
    kind: str  # new, updated, unchanged, skipped, stale, kept aside
    order_id: int | None = None
    reason: str = ""

    def words(self) -> str:
        name = f"order {self.number or '?'}" + (f" (id {self.shop_id})" if self.shop_id else "")
        if self.kind == KEPT:
            return f"{name} kept aside: {self.reason}"
        if self.kind == STALE:
            return f"{name}: older than the version stored, not applied"
        return f"{name}: {self.kind}" + (f" ({self.reason})" if self.reason else "")


@dataclass
class Taken:
    orders: list[TakenOrder] = field(default_factory=list)

    def count(self, *kinds: str) -> int:
        return sum(1 for order in self.orders if order.kind in kinds)

    @property
    def new(self) -> int:
        return self.count(NEW)

    @property
    def updated(self) -> int:
        return self.count(UPDATED)

    @property
    def kept_aside(self) -> int:
        return self.count(KEPT)

    @property
    def unchanged(self) -> int:
        return len(self.orders) - self.new - self.updated - self.kept_aside

    @property
    def summary(self) -> str:
        return f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, {self.kept_aside} kept aside"


def plans_of(storefront: Storefront) -> PlanMatcher:
    return PlanMatcher(list(Plan.objects.filter(storefront=storefront)))


def take_orders(*, storefront: Storefront, items: list, via: str, plans: PlanMatcher | None = None,
                now: datetime | None = None) -> Taken:
    """Take ``items`` (WooCommerce order objects) into ``storefront``'s orders; every one is counted once."""
    now = now or timezone.now()
    plans = plans or plans_of(storefront)
    for attempt in range(ATTEMPTS):
        try:
            return _take(storefront, items, via, plans, now)
        except IntegrityError:
            if attempt == ATTEMPTS - 1:
                raise
            logger.info("shop orders of %s written meanwhile by another delivery: reading them again", storefront.slug)
    raise AssertionError("unreachable")


def _take(storefront: Storefront, items: list, via: str, plans: PlanMatcher, now: datetime) -> Taken:
    with gc_paused():
        records = woocommerce_records(items, plans)
    pairs = list(zip(records, items))
    taken = Taken()
    # The same order twice in one batch (changed while the pages were read): its newest version counts.
    newest: dict[int, tuple[OrderRecord, object]] = {}
    batch: list[tuple[OrderRecord, object]] = []
    for record, item in pairs:
        if record.shop_id is None:
            batch.append((record, item))
            continue
        seen = newest.get(record.shop_id)
        if seen is None or _later(record, seen[0]):
            if seen is not None:
                taken.orders.append(TakenOrder(record.shop_id, seen[0].number, STALE))
            newest[record.shop_id] = (record, item)
        else:
            taken.orders.append(TakenOrder(record.shop_id, record.number, STALE))
    batch += newest.values()

    with transaction.atomic():
        ids = [record.shop_id for record, _ in batch if record.shop_id is not None]
        kept = {row.shop_order_id: row for chunk in batches(ids)
                for row in KeptAsideOrder.objects.select_for_update().filter(storefront=storefront,
                                                                             shop_order_id__in=chunk)}
        usable = []
        for record, item in batch:
            row = kept.get(record.shop_id)
            if (row is not None and row.taken_in_at is None and row.modified_at is not None
                    and record.modified_at is not None and record.modified_at < row.modified_at):
                # A newer version of this order is kept aside: this one is older still.
                taken.orders.append(TakenOrder(record.shop_id, record.number, STALE))
                continue
            usable.append((record, item))
        result = import_shop_orders(storefront=storefront, records=[record for record, _ in usable],
                                    own_refunds=_own_refunds, lock=_lock)
        outcomes = {id(outcome.record): outcome for outcome in result.outcomes}
        for record, item in usable:
            row = kept.get(record.shop_id)
            if record.errors:
                reason = "; ".join(f"{error.field}: {error.message}" for error in record.errors)
                row = _keep_aside(storefront, record, item, row, reason=reason, via=via, now=now)
                taken.orders.append(TakenOrder(record.shop_id, record.number, KEPT, reason=reason))
                continue
            outcome = outcomes[id(record)]
            taken.orders.append(TakenOrder(record.shop_id, record.number, outcome.kind, outcome.order_id,
                                           outcome.note))
            if row is not None and row.taken_in_at is None:
                row.taken_in_at, row.order_id, row.order_object = now, outcome.order_id, {}
                row.save(update_fields=["taken_in_at", "order", "order_object"])
            before, after = outcome.changes.get("refunded_amount", (None, None))
            if before is not None and after > before:
                case_note_shop_refunds(order_id=outcome.order_id, refunded_before=before, now=now)
    return taken


def _later(record: OrderRecord, other: OrderRecord) -> bool:
    if record.modified_at is None:
        return other.modified_at is None
    return other.modified_at is None or record.modified_at >= other.modified_at


def _lock(order_ids: list[int]) -> None:
    """Lock the stored orders ``order_ids``, their open cases first, as the case services do.

    An older and a newer delivery of one order then apply one after the other, each judged against
    what the other wrote; and a payout being paid meanwhile is counted in the refunded total.
    """
    list(RefundCase.objects.select_for_update().filter(order_id__in=order_ids, state__in=list(OPEN_STATES))
         .order_by("pk").values_list("pk", flat=True))
    list(Order.objects.select_for_update().filter(pk__in=order_ids).order_by("pk").values_list("pk", flat=True))


def _own_refunds(order_ids: list[int]) -> dict[int, OwnRefunds]:
    """What our payouts paid on each order, with and without the shop's refund id, and the refunds we
    sent that the shop has not answered for sure (in flight) or recorded without paying (held)."""
    paid: dict[int, list] = {}
    sent: dict[int, list] = {}
    for chunk in batches(order_ids):
        for order_id, amount, refund_id in Payout.objects.filter(order_id__in=chunk).values_list(
                "order_id", "amount", "shop_refund_id"):
            paid.setdefault(order_id, []).append((amount, refund_id))
        for order_id, amount, refund_id, status in RefundRequest.objects.filter(
                order_id__in=chunk, status__in=[RefundRequest.Status.SENDING, RefundRequest.Status.HELD]
        ).values_list("order_id", "amount", "shop_refund_id", "status"):
            sent.setdefault(order_id, []).append((amount, refund_id, status))
    zero = Decimal("0.00")
    return {
        order_id: OwnRefunds(
            shop_refund_ids=frozenset(
                [refund_id for _, refund_id in paid.get(order_id, []) if refund_id]
                + [refund_id for _, refund_id, _ in sent.get(order_id, []) if refund_id]),
            with_shop_id=sum((amount for amount, refund_id in paid.get(order_id, []) if refund_id), zero),
            without_shop_id=sum((amount for amount, refund_id in paid.get(order_id, []) if not refund_id), zero),
            in_flight=tuple(amount for amount, _, status in sent.get(order_id, [])
                            if status == RefundRequest.Status.SENDING),
        )
        for order_id in {*paid, *sent}
    }


def _keep_aside(storefront: Storefront, record: OrderRecord, item, row: KeptAsideOrder | None, *, reason: str,
                via: str, now: datetime) -> KeptAsideOrder:
    fields = {"number": record.number[:40], "reason": reason, "order_object": woo_fields_read(item),
              "modified_at": record.modified_at, "via": via, "last_kept_at": now, "taken_in_at": None, "order": None}
    if row is None:
        return KeptAsideOrder.objects.create(storefront=storefront, shop_order_id=record.shop_id, first_kept_at=now,
                                             **fields)
    for name, value in fields.items():
        setattr(row, name, value)
    row.save()
    return row


def take_kept_aside(*, rows: list[KeptAsideOrder], now: datetime | None = None) -> Taken:
    """Read kept-aside orders again as they were kept (after a plan was added, say): what is usable now is
    taken in; the rest stays aside with today's reason."""
    taken = Taken()
    by_storefront: dict[int, list[KeptAsideOrder]] = {}
    for row in rows:
        # Without the shop's id an order can never be matched: it stays for a person to read.
        if row.taken_in_at is None and row.order_object and row.shop_order_id is not None:
            by_storefront.setdefault(row.storefront_id, []).append(row)
    for kept_rows in by_storefront.values():
        storefront = kept_rows[0].storefront
        result = take_orders(storefront=storefront, items=[row.order_object for row in kept_rows], via=kept_rows[0].via,
                             now=now)
        taken.orders += result.orders
    return taken
