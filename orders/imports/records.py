"""Reading a shop's orders into plain records: WooCommerce REST API v3 JSON and our CSV.

Each record is checked on its own here, and its errors name its position (array index or line) and
the field as the file spells it. Nothing is written: ``orders.imports.engine`` does that.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from orders.imports.reading import (
    CSV_FIELD_LIMIT,
    FileTrouble,
    csv_column,
    json_trouble,
    shown,
    unstorable,
)
from orders.models import Customer, Order, Plan
from rules.engine import PAYMENT_METHODS
from rules.money import MoneyError, parse_money

logger = logging.getLogger(__name__)

CSV_HEADER = [
    "number", "email", "first_name", "last_name", "phone", "product_id", "product_name", "plan_months", "devices",
    "amount", "currency", "payment_method", "transaction_id", "purchased_at", "delivered_at", "status",
]

# WooCommerce order statuses: which are money received (docs/reports.md).
NOT_PAID = {"pending", "on-hold", "failed", "cancelled", "checkout-draft"}
PAID = {"processing", "completed", "paid"}
REFUNDED = {"refunded"}

# Payment gateway ids as shops name them, to our payment methods (the policy's vocabulary).
GATEWAYS = {
    "stripe": "card", "stripe_cc": "card", "woocommerce_payments": "card", "square_credit_card": "card",
    "authorize_net_cim_credit_card": "card", "braintree_credit_card": "card", "card": "card",
    "paypal": "paypal", "ppcp-gateway": "paypal", "ppec_paypal": "paypal", "braintree_paypal": "paypal",
    "bacs": "bank_transfer", "bank_transfer": "bank_transfer", "sepa": "bank_transfer", "stripe_sepa": "bank_transfer",
}
CRYPTO_HINT = re.compile(r"crypto|coin|bitcoin|btc|usdt|nowpayments|plisio|binance", re.IGNORECASE)

MONTHS_RULE = re.compile(r"(\d{1,2})\s*-?\s*(?:months?|mo\b|mois|meses|monate?)", re.IGNORECASE)
YEARS_RULE = re.compile(r"(?:(\d)\s*-?\s*years?|\b(annual|yearly|12m)\b)", re.IGNORECASE)
DEVICES_RULE = re.compile(r"(\d{1,2})\s*-?\s*(?:devices?|connections?|screens?|users?)", re.IGNORECASE)


@dataclass
class RecordError:
    position: str  # "record 3" (array index) or "line 4"
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.position}, {self.field}: {self.message}"


@dataclass
class OrderRecord:
    """One order as the file gives it, checked and in our terms."""

    position: str
    number: str
    email: str = ""
    name: str = ""
    phone: str = ""
    plan: Plan | None = None
    amount: Decimal = Decimal("0.00")
    currency: str = ""
    payment_method: str = ""
    processor_reference: str = ""
    purchased_at: datetime | None = None
    delivered_at: datetime | None = None
    refunded: Decimal = Decimal("0.00")
    shop_status: str = ""
    # WooCommerce only: the shop's order id, its last change, and each refund it lists (id, size). A
    # file import stores none of them; a connected shop's orders are matched and ordered by them.
    shop_id: int | None = None
    modified_at: datetime | None = None
    refund_lines: list[tuple[str, Decimal]] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)

    @property
    def paid(self) -> bool:
        return self.shop_status not in NOT_PAID

    def error(self, field_name: str, message: str) -> None:
        self.errors.append(RecordError(self.position, field_name, message))


class PlanMatcher:
    """A storefront's plans by product id, else by the months and devices a product's name states."""

    def __init__(self, plans: list[Plan]):
        self.by_product = {p.external_product_id: p for p in plans if p.external_product_id}
        self.by_terms: dict[tuple[int, int], list[Plan]] = {}
        for plan in plans:
            self.by_terms.setdefault((plan.months, plan.devices), []).append(plan)

    def by_id(self, product_id: str) -> Plan | None:
        return self.by_product.get(str(product_id).strip()) if product_id not in (None, "", 0, "0") else None

    def by_months(self, months: int, devices: int) -> Plan | None | str:
        found = self.by_terms.get((months, devices), [])
        if len(found) > 1:
            return f"{len(found)} plans are for {months} months and {devices} device(s): give the product id"
        return found[0] if found else None

    def by_name(self, name: str) -> Plan | None | str:
        terms = name_terms(name)
        if terms is None:
            return None
        return self.by_months(*terms)


def name_terms(name: str) -> tuple[int, int] | None:
    """The months and devices a product name states ("12 Months - 2 Devices"); None if no months."""
    months = None
    if match := MONTHS_RULE.search(name or ""):
        months = int(match.group(1))
    elif match := YEARS_RULE.search(name or ""):
        months = 12 * int(match.group(1)) if match.group(1) else 12
    if months is None:
        return None
    devices_match = DEVICES_RULE.search(name or "")
    return months, int(devices_match.group(1)) if devices_match else 1


def parse_time(value, *, naive_is_utc: bool = True) -> datetime:
    """An ISO 8601 time; without an offset it is UTC (WooCommerce's ``*_gmt`` fields have none)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("not a time")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise ValueError("no time zone")
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@lru_cache(maxsize=65536)
def valid_email(email: str) -> bool:
    """Django's check, once per address: a returning customer's orders repeat it."""
    try:
        validate_email(email)
    except ValidationError:
        return False
    return True


@lru_cache(maxsize=1024)
def payment_method(gateway: str) -> str:
    code = (gateway or "").strip().lower()
    if code in PAYMENT_METHODS:
        return code
    if code in GATEWAYS:
        return GATEWAYS[code]
    if CRYPTO_HINT.search(code):
        return "crypto"
    return "other"


def _text(value) -> str:
    """A scalar as text; an array or object is no text at all (its ``str()`` could recurse without end)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)):
        return str(value)
    return ""


def _stored_text(record: OrderRecord, field_name: str, value, *, max_length: int | None = None) -> str:
    """``_text`` of a value that will be stored: it must be text a database can hold."""
    text = _text(value)
    if problem := unstorable(text):
        record.error(field_name, problem)
    elif max_length is not None and len(text) > max_length:
        record.error(field_name, f"is longer than {max_length} characters")
    return text


def _name(record: OrderRecord, first_field: str, first, last_field: str, last) -> None:
    first_text = _stored_text(record, first_field, first)
    last_text = _stored_text(record, last_field, last)
    record.name = f"{first_text} {last_text}".strip()
    limit = Customer._meta.get_field("name").max_length
    if len(record.name) > limit:
        longer = first_field if len(first_text) >= len(last_text) else last_field
        record.error(longer, f"the customer's name is longer than {limit} characters")


def _check_common(record: OrderRecord, *, email_field: str, amount_field: str, currency_field: str,
                  raw_email, raw_amount, raw_currency) -> None:
    record.email = _text(raw_email).lower()
    if not record.email:
        record.error(email_field, "the customer's e-mail is missing")
    elif len(record.email) > Customer._meta.get_field("email").max_length or not valid_email(record.email):
        record.error(email_field, f"{shown(raw_email)} is not an e-mail address")
    try:
        if isinstance(raw_amount, (bool, dict, list)):
            raise MoneyError("not a scalar")
        record.amount = parse_money(raw_amount)
    except MoneyError:
        record.error(amount_field, f"{shown(raw_amount)} is not an amount (a positive number with at most two decimals)")
    record.currency = _text(raw_currency).upper()
    if not re.fullmatch(r"[A-Z]{3}", record.currency):
        record.error(currency_field, f"{shown(raw_currency)} is not a currency code (three letters, e.g. USD)")
    if problem := unstorable(record.number):
        record.error("number", problem)
    if record.number and len(record.number) > Order._meta.get_field("number").max_length:
        record.error("number", "the order number is too long (40 characters at most)")


def _check_times(record: OrderRecord, *, purchased_field: str, raw_purchased, delivered_field: str,
                 raw_delivered) -> None:
    try:
        record.purchased_at = parse_time(raw_purchased)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a year 1 or 9999 moved to UTC
        record.error(purchased_field, f"{shown(raw_purchased)} is not an ISO 8601 date and time")
    if raw_delivered not in (None, ""):
        try:
            record.delivered_at = parse_time(raw_delivered)
        except (TypeError, ValueError, OverflowError):
            record.error(delivered_field, f"{shown(raw_delivered)} is not an ISO 8601 date and time")
    if record.purchased_at and record.delivered_at and record.delivered_at < record.purchased_at:
        record.error(delivered_field, "the delivery is before the purchase")


def _check_refunded(record: OrderRecord, field_name: str) -> None:
    if record.refunded > record.amount and not any(e.field == "total" for e in record.errors):
        record.error(field_name, f"the refunds ({record.refunded:.2f}) are more than the order total ({record.amount:.2f})")


def woocommerce_records(data, plans: PlanMatcher) -> list[OrderRecord]:
    """The array ``GET /wp-json/wc/v3/orders`` returns, one record per order object."""
    records = []
    for index, item in enumerate(data):
        position = f"record {index}"
        if not isinstance(item, dict):
            record = OrderRecord(position=position, number="")
            record.error("(record)", "not an order object")
        else:
            record = _guarded(position, _woo_record, item, position, plans)
        records.append(record)
    return records


def _guarded(position: str, read, *args) -> OrderRecord:
    """``read(*args)``, or a record with an error at ``position`` if the values make it fail.

    Every value a file can hold is meant to be checked by the readers; this keeps one they did not
    foresee an error of its own record instead of an exception that ends the import.
    """
    try:
        return read(*args)
    except (ArithmeticError, LookupError, RecursionError, TypeError, UnicodeError, ValueError):
        logger.warning("order import: %s could not be read", position, exc_info=True)
        record = OrderRecord(position=position, number="")
        record.error("(record)", "this order holds values that cannot be read")
        return record


def _woo_record(item: dict, position: str, plans: PlanMatcher) -> OrderRecord:
    number = _text(item.get("number")) or _text(item.get("id"))
    record = OrderRecord(position=position, number=number)
    if not number:
        record.error("number", "the order number is missing")
    billing = item.get("billing") if isinstance(item.get("billing"), dict) else {}
    _name(record, "billing.first_name", billing.get("first_name"), "billing.last_name", billing.get("last_name"))
    record.phone = _stored_text(record, "billing.phone", billing.get("phone"))[:40]
    _check_common(record, email_field="billing.email", amount_field="total", currency_field="currency",
                  raw_email=billing.get("email"), raw_amount=item.get("total"), raw_currency=item.get("currency"))
    record.shop_status = _text(item.get("status")).lower()
    if record.shop_status not in NOT_PAID | PAID | REFUNDED:
        record.error("status", f"unknown order status {shown(item.get('status'))}")
    record.payment_method = payment_method(_text(item.get("payment_method")))
    record.processor_reference = _stored_text(record, "transaction_id", item.get("transaction_id"))[:120]
    _check_times(record, purchased_field="date_paid_gmt" if item.get("date_paid_gmt") else "date_created_gmt",
                 raw_purchased=item.get("date_paid_gmt") or item.get("date_created_gmt"),
                 delivered_field="date_completed_gmt", raw_delivered=item.get("date_completed_gmt"))
    _woo_plan(record, item.get("line_items"), plans)
    _woo_refunds(record, item.get("refunds"))
    _woo_shop_side(record, item)
    return record


# The fields of a WooCommerce order object this reader uses: all that is worth keeping of one.
WOO_FIELDS = ("id", "number", "status", "currency", "total", "payment_method", "transaction_id", "date_created_gmt",
              "date_paid_gmt", "date_completed_gmt", "date_modified_gmt")
WOO_BILLING = ("first_name", "last_name", "email", "phone")
WOO_LINE = ("product_id", "variation_id", "name")
WOO_REFUND = ("id", "total")


def woo_fields_read(item) -> dict:
    """``item`` cut down to what ``woocommerce_records`` reads of it (addresses, notes and meta data
    left out), so that an order kept to be read again later keeps no more of the customer than that."""
    if not isinstance(item, dict):
        return {}

    def pick(source, names):
        return {name: source[name] for name in names if name in source} if isinstance(source, dict) else source

    kept = pick(item, WOO_FIELDS)
    if "billing" in item:
        kept["billing"] = pick(item["billing"], WOO_BILLING)
    if "line_items" in item:
        lines = item["line_items"]
        kept["line_items"] = [pick(line, WOO_LINE) for line in lines] if isinstance(lines, list) else lines
    if "refunds" in item:
        refunds = item["refunds"]
        kept["refunds"] = [pick(refund, WOO_REFUND) for refund in refunds] if isinstance(refunds, list) else refunds
    return kept


def _woo_shop_side(record: OrderRecord, item: dict) -> None:
    """The shop's id and last change of the order: kept for a connected shop, unused by a file import,
    where their absence or a strange value is no error."""
    raw_id = item.get("id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool) and 0 < raw_id < 2**63:
        record.shop_id = raw_id
    elif isinstance(raw_id, str) and re.fullmatch(r"[1-9][0-9]{0,17}", raw_id.strip()):
        record.shop_id = int(raw_id)
    try:
        record.modified_at = parse_time(item.get("date_modified_gmt"))
    except (TypeError, ValueError, OverflowError):
        record.modified_at = None


def _woo_plan(record: OrderRecord, items, plans: PlanMatcher) -> None:
    if not isinstance(items, list) or not items:
        record.error("line_items", "the order has no line items")
        return
    matched: list[Plan] = []
    for i, line in enumerate(items):
        if not isinstance(line, dict):
            record.error(f"line_items[{i}]", "not a line item")
            return
        plan = plans.by_id(_text(line.get("variation_id"))) or plans.by_id(_text(line.get("product_id")))
        if plan is None:
            plan = plans.by_name(_text(line.get("name")))
        if isinstance(plan, str):
            record.error(f"line_items[{i}].name", plan)
            return
        if plan is None:
            record.error(f"line_items[{i}]", f"no plan of this storefront matches product "
                                             f"{shown(line.get('product_id'))} ({shown(_text(line.get('name')))})")
            return
        matched.append(plan)
    if len(matched) > 1:
        record.error("line_items", "the order has more than one subscription plan: import it by hand")
        return
    record.plan = matched[0]


def _woo_refunds(record: OrderRecord, refunds) -> None:
    total = Decimal("0.00")
    if refunds is not None and not isinstance(refunds, list):
        record.error("refunds", "not a list of refunds")
        return
    for i, refund in enumerate(refunds or []):
        raw = refund.get("total") if isinstance(refund, dict) else None
        try:
            amount = parse_money(_text(raw).lstrip("-"))
        except MoneyError:
            record.error(f"refunds[{i}].total", f"{shown(raw)} is not an amount")
            return
        total += amount
        record.refund_lines.append((_text(refund.get("id")), amount))
    if record.shop_status in REFUNDED and total == 0:
        total = record.amount  # refunded in full, the refund lines not listed
    record.refunded = total
    _check_refunded(record, "refunds")


class _Lines:
    """The file's lines for ``csv.reader``, keeping those of the record being read.

    ``csv.Error`` says neither the line nor the column; with the lines of the record it stopped in,
    the error can name both.
    """

    def __init__(self, text: str):
        # newline="": a quoted field keeps its line ends, and a lone "\r" ends a line, as in RFC 4180.
        self.source = io.StringIO(text, newline="")
        self.current: list[str] = []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self.source)
        self.current.append(line)
        return line

    def next_record(self) -> None:
        self.current.clear()


def csv_records(text: str, plans: PlanMatcher) -> tuple[list[OrderRecord], list[RecordError]]:
    """Our CSV, one order a line after the header; file-level errors (a wrong header) come second.

    Reading stops at the first record that is not CSV (a field longer than ``csv`` takes): the error
    names it, and the records before it are checked as usual.
    """
    lines = _Lines(text.lstrip("\ufeff"))
    reader = csv.reader(lines)
    header: list[str] = []
    records: list[OrderRecord] = []
    start = 1
    try:
        first = next(reader, None)
        if first is None:
            return [], [RecordError("line 1", "(header)", "the file is empty")]
        header = [h.strip() for h in first]
        missing = [name for name in CSV_HEADER if name not in header]
        if missing:
            return [], [RecordError("line 1", "(header)", f"missing column(s): {', '.join(missing)}")]
        start = reader.line_num + 1
        lines.next_record()
        for row in reader:
            position = f"line {reader.line_num}"
            lines.next_record()
            start = reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            records.append(_guarded(position, _csv_record, position, dict(zip(header, row)), plans))
    except csv.Error:
        return records, [_csv_error(start, header, "".join(lines.current))]
    return records, []


def _csv_error(line: int, header: list[str], record_text: str) -> RecordError:
    column = csv_column(record_text)
    if column is None:
        return RecordError(f"line {line}", "(record)", "this line cannot be read as CSV")
    field_name = "(header)" if not header else header[column] if column < len(header) else f"column {column + 1}"
    return RecordError(f"line {line}", field_name, f"the field is longer than {CSV_FIELD_LIMIT:,} characters")


def _csv_int(record: OrderRecord, values: dict, name: str) -> int | None:
    raw = _text(values.get(name))
    if not raw:
        return None
    if not re.fullmatch(r"[0-9]{1,4}", raw) or int(raw) < 1:
        record.error(name, f"{shown(raw)} is not a whole number of at least 1")
        return None
    return int(raw)


def _csv_record(position: str, values: dict, plans: PlanMatcher) -> OrderRecord:
    record = OrderRecord(position=position, number=_text(values.get("number")).lstrip("#"))
    if not record.number:
        record.error("number", "the order number is missing")
    _name(record, "first_name", values.get("first_name"), "last_name", values.get("last_name"))
    record.phone = _stored_text(record, "phone", values.get("phone"))[:40]
    _check_common(record, email_field="email", amount_field="amount", currency_field="currency",
                  raw_email=values.get("email"), raw_amount=values.get("amount"), raw_currency=values.get("currency"))
    record.payment_method = payment_method(_text(values.get("payment_method")))
    record.processor_reference = _stored_text(record, "transaction_id", values.get("transaction_id"))[:120]
    _check_times(record, purchased_field="purchased_at", raw_purchased=values.get("purchased_at"),
                 delivered_field="delivered_at", raw_delivered=_text(values.get("delivered_at")))
    record.shop_status = _text(values.get("status")).lower()
    if record.shop_status not in NOT_PAID | PAID | REFUNDED:
        record.error("status", f"unknown order status {shown(values.get('status'))}")
    if record.shop_status in REFUNDED:
        record.refunded = record.amount
    months, devices = _csv_int(record, values, "plan_months"), _csv_int(record, values, "devices")
    plan = plans.by_id(_text(values.get("product_id")))
    if plan is None and months is not None:
        plan = plans.by_months(months, devices or 1)
    if plan is None:
        plan = plans.by_name(_text(values.get("product_name")))
    if isinstance(plan, str):
        record.error("product_id", plan)
    elif plan is None:
        record.error("product_id", f"no plan of this storefront matches product {shown(values.get('product_id'))} "
                                   f"({shown(_text(values.get('product_name')))})")
    record.plan = plan if isinstance(plan, Plan) else None
    return record


def load_woocommerce(text: str, plans: PlanMatcher) -> tuple[list[OrderRecord], list[RecordError]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return [], [RecordError(f"line {error.lineno}", "(file)", f"not JSON: {error.msg} (column {error.colno})")]
    except (RecursionError, ValueError):
        # Too deep for the parser, or an integer longer than Python converts: find where.
        trouble: FileTrouble = json_trouble(text)
        return [], [RecordError(trouble.position, trouble.field, trouble.message)]
    if not isinstance(data, list):
        return [], [RecordError("record 0", "(file)", "expected the array of orders the REST API returns")]
    return woocommerce_records(data, plans), []
