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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal

from django.db import DatabaseError, transaction
from django.db.models import Exists, OuterRef

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
# The terms a case or payout rests on: an order with history keeps them (as in the order admin).
TERMS = ("amount", "currency", "payment_method", "purchased_at", "plan_id", "customer_id")


@dataclass
class Outcome:
    record: OrderRecord
    kind: str
    changes: dict[str, tuple] = field(default_factory=dict)  # field: (old, new), for updates
    note: str = ""


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
        unchanged = self.count(UNCHANGED) + self.count(SKIPPED)
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


def _plan(record: OrderRecord, order: StoredOrder | None, customers: dict[str, Customer]) -> Outcome | None:
    """What importing ``record`` would do; errors go on the record."""
    if order is None:
        if not record.paid:
            return Outcome(record, SKIPPED, note=f"not a paid order ({record.shop_status}): not imported")
        return Outcome(record, NEW)
    if not record.paid:
        return Outcome(record, SKIPPED, note=f"the shop now says {record.shop_status}; the order is kept as it was")
    customer = customers.get(record.email)
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


def _write(storefront: Storefront, outcomes: list[Outcome], existing: dict[str, StoredOrder],
           customers: dict[str, Customer], *, orm: bool = False) -> None:
    wanted = [o.record for o in outcomes if o.kind in (NEW, UPDATED)]
    _save_customers(storefront, wanted, customers, orm=orm)

    fresh = [o.record for o in outcomes if o.kind == NEW]
    zero = Decimal("0")
    rows = [(storefront.pk, r.number, customers[r.email].pk, r.plan.pk, r.amount, r.currency, r.payment_method,
             r.processor_reference, r.purchased_at, r.refunded, _status(r.amount, r.refunded, zero)) for r in fresh]
    ids = _insert_new(Order, ORDER_COLUMNS, rows, storefront=storefront, orm=orm)
    new_subscriptions = [(ids[r.number], r.delivered_at) for r in fresh]

    changed_orders, changed_subscriptions = [], []
    for outcome in outcomes:
        if outcome.kind != UPDATED:
            continue
        record = outcome.record
        order = existing[record.number]
        for name, (_old, value) in outcome.changes.items():
            if name != "delivered_at":
                setattr(order, name, value)
        order.customer_id = customers[record.email].pk
        changed_orders.append(tuple(getattr(order, name) for name in ("pk", *ORDER_UPDATES)))
        if "delivered_at" in outcome.changes:
            if order.subscription_id is None:
                new_subscriptions.append((order.pk, record.delivered_at))
            else:
                changed_subscriptions.append((order.subscription_id, record.delivered_at))
    update_rows(Order, ORDER_UPDATES, changed_orders, orm=orm)
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
