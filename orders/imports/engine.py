"""Importing a shop's orders: everything checked first, then all written in one transaction, or nothing.

Orders are matched by storefront and number, so a second import of the same file changes nothing
and a changed order is updated. Lookups are made once per file (plans, existing orders, customers),
and rows are written as prepared tuples in batches (``orders.imports.writes``: ``COPY`` on
PostgreSQL, one ``executemany`` on SQLite), without a model instance per row.
"""

from __future__ import annotations

import csv
import gc
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal

from django.db import DatabaseError, transaction
from django.db.models import Exists, OuterRef, Q

from orders.imports.records import (
    OrderRecord,
    PlanMatcher,
    RecordError,
    csv_records,
    load_woocommerce,
)
from orders.imports.writes import batches, insert_rows, reserve_ids, update_rows
from orders.models import Chargeback, Customer, Order, Plan, Storefront, Subscription

logger = logging.getLogger(__name__)

NEW, UPDATED, UNCHANGED, SKIPPED = "new", "updated", "unchanged", "skipped"
# A connected shop's order older than the version stored: not applied (counted as unchanged).
STALE = "stale"
# The terms a case or payout rests on: an order with history keeps them (as in the order admin).
TERMS = ("amount", "currency", "payment_method", "purchased_at", "plan_id", "customer_id")


@dataclass
class Outcome:
    record: OrderRecord
    kind: str
    changes: dict[str, tuple] = field(default_factory=dict)  # field: (old, new), for updates
    note: str = ""
    order_id: int | None = None  # the stored order's, once known (a connected shop's import sets it)


@dataclass
class ImportResult:
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    # Written all the same, but told: an order in another currency than its storefront's.
    warnings: list[RecordError] = field(default_factory=list)
    committed: bool = False

    def count(self, kind: str) -> int:
        return sum(1 for o in self.outcomes if o.kind == kind)

    @property
    def summary(self) -> str:
        unchanged = self.count(UNCHANGED) + self.count(SKIPPED) + self.count(STALE)
        return (f"{self.count(NEW)} new, {self.count(UPDATED)} updated, {unchanged} unchanged, "
                f"{len(self.errors)} errors")

    @property
    def page_summary(self) -> str:
        """The pages' count: orders the shop lists as not paid are skipped, not "unchanged"."""
        return (f"{self.count(NEW)} new, {self.count(UPDATED)} updated, {self.count(UNCHANGED)} unchanged, "
                f"{self.count(SKIPPED)} skipped, {len(self.errors)} errors")


def read_records(*, storefront: Storefront, text: str, fmt: str) -> tuple[list[OrderRecord], list[RecordError]]:
    """The file's records, or an error of the file: bad input never ends the import with an exception.

    The readers name the record and field of every problem they know; this is the last net for a
    file so large or strange that reading it fails as a whole.
    """
    plans = PlanMatcher(list(Plan.objects.filter(storefront=storefront)))
    try:
        if fmt == "woocommerce":
            return load_woocommerce(text, plans)
        return csv_records(text, plans)
    except (csv.Error, MemoryError, RecursionError, UnicodeError, ValueError, OverflowError):
        logger.warning("order import: the file could not be read", exc_info=True)
        return [], [RecordError("line 1", "(file)", "the file cannot be read; nothing in it was checked")]


def import_orders(*, storefront: Storefront, text: str, fmt: str, commit: bool, orm: bool = False) -> ImportResult:
    """Check every record; with ``commit`` and no error, write them all.

    ``orm`` writes through model instances (``bulk_create``/``bulk_update``): the plain path the
    fast one (``orders.imports.writes``) is tested against.
    """
    with gc_paused():
        records, file_errors = read_records(storefront=storefront, text=text, fmt=fmt)
        result = ImportResult(errors=list(file_errors))
        _check_duplicates(records)
        for record in records:
            result.errors.extend(record.errors)
        valid = [r for r in records if not r.errors]
        existing = _existing_orders(storefront, [r.number for r in valid])
        customers = _existing_customers(storefront, {r.email for r in valid})
        for record in valid:
            outcome = _plan(record, existing.get(record.number), customers)
            result.errors.extend(record.errors)
            if outcome is not None:
                result.outcomes.append(outcome)
                if outcome.kind in (NEW, UPDATED) and record.currency != storefront.currency:
                    result.warnings.append(RecordError(
                        record.position, "currency", f"the order is in {record.currency}, the storefront's "
                        f"currency is {storefront.currency}: check that this order belongs to {storefront.name}"))
    if commit and not result.errors:
        try:
            with transaction.atomic():
                _write(storefront, result.outcomes, existing, customers, orm=orm)
        except DatabaseError:
            # Another import wrote the same orders meanwhile, or a value the checks let through was
            # refused: the transaction is rolled back, so nothing of the file is written.
            logger.warning("order import: the write was refused", exc_info=True)
            result.errors.append(RecordError("line 1", "(file)", "the database refused the orders (another import "
                                                                 "may have written them meanwhile): nothing was "
                                                                 "written; run the import again"))
            return result
        result.committed = True
    return result


@dataclass(frozen=True)
class OwnRefunds:
    """The refunds this product paid on one order, as its payouts record them, and those it sent to the
    shop that are not paid yet.

    Orders know nothing of payouts: the caller (the connected shop's app) reads them and says.
    """

    shop_refund_ids: frozenset[str] = frozenset()  # the shop's ids of the refunds we made (paid or held)
    with_shop_id: Decimal = Decimal("0.00")  # paid by our payouts that carry such an id
    without_shop_id: Decimal = Decimal("0.00")  # paid by hand (a typed reference): the shop may list it too
    # Refunds sent to the shop whose answer we do not know yet: the shop may list one already, under an
    # id we do not know; it is counted when the shop's answer pays it.
    in_flight: tuple[Decimal, ...] = ()


def shop_refunded(record: OrderRecord, own: OwnRefunds) -> Decimal:
    """An order's refunded total from the shop's refunds and ours, each counted once (docs/shop.md).

    A refund the shop lists under one of our refund ids is ours: counted through its payout, or not at
    all while it is held for a manager. A listed refund of the very amount of one we sent and have no
    answer for is taken to be that one, and left for its answer to count. A payout paid by hand and a
    refund the shop lists under no id of ours may be the same money, entered once here and once in the
    shop: they are not added, the larger of the two is taken.
    """
    ours_listed = sum((amount for refund_id, amount in record.refund_lines if refund_id in own.shop_refund_ids),
                      Decimal("0.00"))
    unknown = [amount for refund_id, amount in record.refund_lines if refund_id not in own.shop_refund_ids]
    sent_listed = Decimal("0.00")
    for amount in own.in_flight:
        if amount in unknown:
            unknown.remove(amount)
            sent_listed += amount
    theirs = max(record.refunded - ours_listed - sent_listed, Decimal("0.00"))
    return own.with_shop_id + max(own.without_shop_id, theirs)


def import_shop_orders(*, storefront: Storefront, records: list[OrderRecord],
                       own_refunds: Callable[[list[int]], dict[int, OwnRefunds]],
                       lock: Callable[[list[int]], None] | None = None) -> ImportResult:
    """A connected shop's orders (a webhook delivery, a page of a sync): each written or refused on its own.

    Read by ``woocommerce_records`` like a file's, and checked by the same rules, but an order with an
    error does not stop the others: its errors stay on its record (the caller keeps it aside). Orders
    are matched by the shop's order id, else by number (an order imported from a file before the
    shop was connected gets its id); an order older (``date_modified_gmt``) than the version stored
    is left alone. Runs in the caller's transaction. When a stored order is to change,
    ``lock(order_ids)`` is called with the stored orders found, which are then read and judged again
    as the locks left them; orders that stay as they are, and new ones, need no lock (the unique
    constraints make a second insert of one fail, and the caller tries again).
    """
    result = ImportResult()
    _check_duplicates(records)
    for record in records:
        if record.shop_id is None:
            record.error("id", "the shop's order id is missing")
        if record.modified_at is None:
            record.error("date_modified_gmt", "the time of the order's last change is missing or not a time")
    valid = [r for r in records if not r.errors]
    read_errors = {id(r): list(r.errors) for r in valid}
    rows = _stored_shop_orders(storefront, valid)
    customers = _existing_customers(storefront, {r.email for r in valid})
    existing, result.outcomes = _plan_shop(valid, rows, customers, own_refunds)
    locked: set[int] = set()
    # Planned first without locks: a sync reading orders again finds most as stored, and locks nothing.
    while lock is not None and _changes_stored(result.outcomes, existing) and not {r.pk for r in rows} <= locked:
        # Rows another delivery inserted meanwhile are locked too, until the set holds still.
        wanted = sorted({row.pk for row in rows} | locked)
        lock(wanted)
        locked.update(wanted)
        rows = _stored_shop_orders(storefront, valid)
        for record in valid:
            record.errors[:] = read_errors[id(record)]
        existing, result.outcomes = _plan_shop(valid, rows, customers, own_refunds)
    result.errors = [error for record in records for error in record.errors]
    _write(storefront, result.outcomes, existing, customers, shop=True)
    result.committed = True
    return result


def _plan_shop(records: list[OrderRecord], rows: list[StoredOrder], customers: dict[str, Customer],
               own_refunds: Callable[[list[int]], dict[int, OwnRefunds]]) -> tuple[dict[str, StoredOrder], list[Outcome]]:
    existing = _match_shop_orders(records, rows)
    own = own_refunds([order.pk for order in existing.values()]) if existing else {}
    outcomes = []
    for record in [r for r in records if not r.errors]:
        order = existing.get(record.number)
        if order is not None and order.shop_modified_at is not None and record.modified_at < order.shop_modified_at:
            outcomes.append(Outcome(record, STALE, note="older than the version stored", order_id=order.pk))
            continue
        refunded = None
        if order is not None:
            refunded = shop_refunded(record, own.get(order.pk, OwnRefunds()))
        outcome = _plan(record, order, customers, refunded=refunded, shop=True)
        if outcome is not None:
            outcomes.append(outcome)
    return existing, outcomes


def _changes_stored(outcomes: list[Outcome], existing: dict[str, StoredOrder]) -> bool:
    """Whether writing ``outcomes`` changes an order already stored (its content, or only its last change)."""
    for outcome in outcomes:
        if outcome.kind == UPDATED:
            return True
        order = existing.get(outcome.record.number)
        if outcome.kind == UNCHANGED and order is not None and order.shop_modified_at != outcome.record.modified_at:
            return True
    return False


def _stored_shop_orders(storefront: Storefront, records: list[OrderRecord]) -> list[StoredOrder]:
    """The stored orders that hold one of ``records``' shop ids or numbers: one query a batch."""
    history = (Exists(_rows_on_order("cases").filter(order=OuterRef("pk")))
               | Exists(_rows_on_order("payouts").filter(order=OuterRef("pk")))
               | Exists(Chargeback.objects.filter(order=OuterRef("pk"))))
    wanted = ("pk", *STORED, "has_history", "subscription__pk", "subscription__delivered_at")
    orders = Order.objects.filter(storefront=storefront).order_by().annotate(has_history=history)
    found: list[StoredOrder] = []
    for chunk in batches(records):
        matching = Q(shop_order_id__in=[r.shop_id for r in chunk]) | Q(number__in=[r.number for r in chunk])
        found += [StoredOrder(*row) for row in orders.filter(matching).values_list(*wanted)]
    return found


def _match_shop_orders(records: list[OrderRecord], rows: list[StoredOrder]) -> dict[str, StoredOrder]:
    """The stored order each record is, by the record's number; a record whose shop id or number
    belongs to another order here gets an error instead."""
    by_id = {row.shop_order_id: row for row in rows if row.shop_order_id is not None}
    by_number = {row.number: row for row in rows}
    found: dict[str, StoredOrder] = {}
    for record in records:
        stored = by_id.get(record.shop_id)
        if stored is not None and stored.number != record.number:
            record.error("number", f"the shop's order {record.shop_id} is order {stored.number} here; the shop "
                                   f"now numbers it {record.number}")
            continue
        if stored is None:
            stored = by_number.get(record.number)
            if stored is not None and stored.shop_order_id not in (None, record.shop_id):
                record.error("id", f"order {record.number} here is the shop's order {stored.shop_order_id}, "
                                   f"not {record.shop_id}")
                continue
        if stored is not None:
            found[record.number] = stored
    return found


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a file is read into records.

    A 100,000-order file allocates millions of objects that all stay alive until the import ends;
    each allocation threshold would start a collection that walks all of them and frees nothing,
    a third of the reading time. Reference counting still frees everything else as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check_duplicates(records: list[OrderRecord]) -> None:
    seen: dict[str, str] = {}
    for record in records:
        if not record.number:
            continue
        if record.number in seen:
            record.error("number", f"order {record.number} is also at {seen[record.number]}")
        else:
            seen[record.number] = record.position


@dataclass(slots=True)
class StoredOrder:
    """What the import compares and writes of an order already stored (no model instance: 100,000 of
    them, each with its subscription, cost more than the query)."""

    pk: int
    number: str
    customer_id: int
    plan_id: int
    amount: Decimal
    currency: str
    payment_method: str
    processor_reference: str
    purchased_at: datetime
    refunded_amount: Decimal
    charged_back_amount: Decimal
    status: str
    shop_order_id: int | None
    shop_modified_at: datetime | None
    has_history: bool
    subscription_id: int | None
    delivered_at: datetime | None


STORED = [f.name for f in fields(StoredOrder) if f.name not in ("pk", "has_history", "subscription_id", "delivered_at")]


def _rows_on_order(relation: str):
    """Cases and payouts, through the order's reverse relations: the cases app sits above orders."""
    return Order._meta.get_field(relation).related_model.objects.all()


def _existing_orders(storefront: Storefront, numbers: list[str]) -> dict[str, StoredOrder]:
    found: dict[str, StoredOrder] = {}
    history = (Exists(_rows_on_order("cases").filter(order=OuterRef("pk")))
               | Exists(_rows_on_order("payouts").filter(order=OuterRef("pk")))
               | Exists(Chargeback.objects.filter(order=OuterRef("pk"))))
    for chunk in batches(numbers):
        rows = (Order.objects.filter(storefront=storefront, number__in=chunk).order_by()
                .annotate(has_history=history)
                .values_list("pk", *STORED, "has_history", "subscription__pk", "subscription__delivered_at"))
        found.update((row[1], StoredOrder(*row)) for row in rows)
    return found


def _existing_customers(storefront: Storefront, emails: set[str]) -> dict[str, Customer]:
    found: dict[str, Customer] = {}
    for chunk in batches(sorted(emails)):
        found.update((c.email.lower(), c) for c in Customer.objects.filter(storefront=storefront, email__in=chunk))
    return found


def _status(amount: Decimal, refunded: Decimal, charged_back: Decimal) -> str:
    if charged_back:
        return Order.Status.CHARGEBACK
    if refunded >= amount:
        return Order.Status.REFUNDED
    return Order.Status.PARTIALLY_REFUNDED if refunded else Order.Status.PAID


def _plan(record: OrderRecord, order: StoredOrder | None, customers: dict[str, Customer], *,
          refunded: Decimal | None = None, shop: bool = False) -> Outcome | None:
    """What importing ``record`` would do; errors go on the record.

    ``refunded``: the stored order's refunded total as a connected shop's refunds make it
    (``shop_refunded``); ``shop``: the shop's order id is kept on the order too.
    """
    if order is None:
        if not record.paid:
            return Outcome(record, SKIPPED, note=f"not a paid order ({record.shop_status}): not imported")
        return Outcome(record, NEW)
    if not record.paid:
        return Outcome(record, SKIPPED, note=f"the shop now says {record.shop_status}; the order is kept as it was")
    customer = customers.get(record.email)
    if refunded is None:
        # Never below what our own payouts recorded: a refund paid here may also be listed by the shop.
        refunded = max(order.refunded_amount, record.refunded)
    new = {
        "amount": record.amount, "currency": record.currency, "payment_method": record.payment_method,
        "purchased_at": record.purchased_at, "plan_id": record.plan.pk,
        "customer_id": customer.pk if customer is not None else None,
        "processor_reference": record.processor_reference or order.processor_reference,
        "refunded_amount": refunded,
        "status": _status(record.amount, refunded, order.charged_back_amount),
    }
    if shop:
        new["shop_order_id"] = record.shop_id
    changes = {name: (getattr(order, name), value) for name, value in new.items() if getattr(order, name) != value}
    if record.delivered_at is not None and record.delivered_at != order.delivered_at:
        changes["delivered_at"] = (order.delivered_at, record.delivered_at)
    # A customer's name and phone are shared by their orders (the last in the file wins): they
    # are written with a new or changed order but do not make an order "updated" on their own,
    # or a file naming one e-mail differently on two orders would never import as unchanged.
    if order.has_history:
        held = [name for name in TERMS if name in changes]
        if held:
            record.error(held[0].removesuffix("_id"), f"order {order.number} has refund cases, payouts or chargebacks "
                                                      f"resting on its terms; {', '.join(held)} cannot change by import")
            return None
    if refunded + order.charged_back_amount > record.amount:
        record.error("total", f"the new total {record.amount:.2f} is less than what was already returned")
        return None
    return Outcome(record, UPDATED, changes) if changes else Outcome(record, UNCHANGED)


ORDER_COLUMNS = ("storefront_id", "number", "customer_id", "plan_id", "amount", "currency", "payment_method",
                 "processor_reference", "purchased_at", "refunded_amount", "status")
ORDER_UPDATES = ("customer_id", "plan_id", "amount", "currency", "payment_method", "processor_reference",
                 "purchased_at", "refunded_amount", "status")


SHOP_COLUMNS = ("shop_order_id", "shop_modified_at")


def _write(storefront: Storefront, outcomes: list[Outcome], existing: dict[str, StoredOrder],
           customers: dict[str, Customer], *, orm: bool = False, shop: bool = False) -> None:
    """Write the new and updated orders; ``shop``: with the shop's order id and last change, which
    is also written alone on an order whose content did not change."""
    wanted = [o.record for o in outcomes if o.kind in (NEW, UPDATED)]
    _save_customers(storefront, wanted, customers, orm=orm)

    fresh = [o.record for o in outcomes if o.kind == NEW]
    zero = Decimal("0")
    columns = (*ORDER_COLUMNS, *SHOP_COLUMNS) if shop else ORDER_COLUMNS
    rows = [(storefront.pk, r.number, customers[r.email].pk, r.plan.pk, r.amount, r.currency, r.payment_method,
             r.processor_reference, r.purchased_at, r.refunded, _status(r.amount, r.refunded, zero),
             *((r.shop_id, r.modified_at) if shop else ())) for r in fresh]
    ids = _insert_new(Order, columns, rows, storefront=storefront, orm=orm)
    new_subscriptions = [(ids[r.number], r.delivered_at) for r in fresh]

    updates = (*ORDER_UPDATES, *SHOP_COLUMNS) if shop else ORDER_UPDATES
    changed_orders, changed_subscriptions, touched = [], [], []
    for outcome in outcomes:
        record = outcome.record
        if outcome.kind == NEW:
            outcome.order_id = ids[record.number]
            continue
        order = existing.get(record.number)
        if order is None:
            continue
        outcome.order_id = order.pk
        if outcome.kind != UPDATED:
            if shop and outcome.kind == UNCHANGED and order.shop_modified_at != record.modified_at:
                touched.append((order.pk, record.modified_at))
            continue
        for name, (_old, value) in outcome.changes.items():
            if name != "delivered_at":
                setattr(order, name, value)
        order.customer_id = customers[record.email].pk
        if shop:
            order.shop_modified_at = record.modified_at
        changed_orders.append(tuple(getattr(order, name) for name in ("pk", *updates)))
        if "delivered_at" in outcome.changes:
            if order.subscription_id is None:
                new_subscriptions.append((order.pk, record.delivered_at))
            else:
                changed_subscriptions.append((order.subscription_id, record.delivered_at))
    update_rows(Order, updates, changed_orders, orm=orm)
    update_rows(Order, ("shop_modified_at",), touched, orm=orm)
    insert_rows(Subscription, ("order_id", "delivered_at"), new_subscriptions, orm=orm)
    update_rows(Subscription, ("delivered_at",), changed_subscriptions, orm=orm)


def _insert_new(model, columns: tuple[str, ...], rows: list[tuple], *, storefront: Storefront,
                orm: bool) -> dict[str, int]:
    """Insert ``rows`` and return their primary keys by their key on the storefront.

    ``columns`` start with ``storefront_id`` and that key (an order's number, a customer's e-mail).
    On PostgreSQL the keys are drawn from the sequence and sent with the rows; elsewhere (and with
    ``orm``) the rows are read back by their key.
    """
    reserved = None if orm else reserve_ids(model, len(rows))
    if reserved is not None:
        insert_rows(model, ("id", *columns), ((pk, *row) for pk, row in zip(reserved, rows)))
        return {row[1]: pk for pk, row in zip(reserved, rows)}
    insert_rows(model, columns, rows, orm=orm)
    key = columns[1]
    ids: dict[str, int] = {}
    for chunk in batches([row[1] for row in rows]):
        ids.update(model.objects.filter(storefront=storefront, **{f"{key}__in": chunk}).values_list(key, "pk"))
    return ids


def _save_customers(storefront: Storefront, records: list[OrderRecord], customers: dict[str, Customer], *,
                    orm: bool = False) -> None:
    """Create the customers the file names for the first time; give known ones the file's name and phone."""
    fresh: dict[str, Customer] = {}
    changed: dict[str, Customer] = {}
    for record in records:
        customer = customers.get(record.email) or fresh.get(record.email)
        if customer is None:
            # By key: assigning the storefront itself costs a descriptor call per new customer.
            fresh[record.email] = Customer(storefront_id=storefront.pk, email=record.email, name=record.name,
                                           phone=record.phone)
            continue
        if (record.name and record.name != customer.name) or (record.phone and record.phone != customer.phone):
            customer.name = record.name or customer.name
            customer.phone = record.phone or customer.phone
            if customer.pk:
                changed[record.email] = customer
    rows = [(storefront.pk, c.email, c.name, c.phone) for c in fresh.values()]
    ids = _insert_new(Customer, ("storefront_id", "email", "name", "phone"), rows, storefront=storefront, orm=orm)
    for email, customer in fresh.items():
        customer.pk = ids[email]
    update_rows(Customer, ("name", "phone"), ((c.pk, c.name, c.phone) for c in changed.values()), orm=orm)
    customers.update(fresh)
