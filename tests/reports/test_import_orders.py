"""import_orders: WooCommerce orders and our CSV, dry run first, all or nothing, idempotent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from orders.models import Customer, Order, Subscription
from tests.cases import open_case

FIXTURES = Path(__file__).parent / "fixtures"
WOO = FIXTURES / "woocommerce_orders.json"
CSV = FIXTURES / "orders.csv"


def run(path, *args, storefront="iptv-smarters-pro") -> tuple[int, list[str]]:
    out = StringIO()
    try:
        call_command("import_orders", str(path), "--storefront", storefront, *args, stdout=out)
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    return status, out.getvalue().splitlines()


def write(tmp_path, data, name="orders.json") -> Path:
    path = tmp_path / name
    path.write_bytes((json.dumps(data) if not isinstance(data, str) else data).encode("utf-8"))
    return path


def woo_orders() -> list[dict]:
    return json.loads(WOO.read_text())


def test_it_imports_woocommerce_orders_mapping_statuses_and_plans(plans, s0):
    status, lines = run(WOO, "--commit")
    assert status == 0
    assert lines[-1] == "4 new, 0 updated, 1 unchanged, 0 errors"  # the pending order is not a paid one
    orders = {o.number: o for o in Order.objects.filter(storefront=s0).select_related("customer", "plan")}
    assert set(orders) == {"5101", "5102", "5103", "5104"}

    guest = orders["5101"]  # customer id 0: a guest checkout, keyed by e-mail
    assert guest.customer.email == "ann.lee@example.com" and guest.customer.name == "Ann Lee"
    assert guest.plan == plans["3m"] and guest.amount == Decimal("34.99") and guest.currency == "USD"
    assert guest.payment_method == "card" and guest.processor_reference == "ch_3Abc"
    assert guest.purchased_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)  # paid, not created
    assert guest.subscription.delivered_at == datetime(2026, 3, 1, 10, 5, tzinfo=UTC)
    assert guest.status == "paid" and guest.refunded_amount == 0

    processing = orders["5102"]  # matched by its variation id; paid, not yet delivered
    assert processing.plan == plans["12m3d"] and processing.currency == "EUR"
    assert processing.payment_method == "paypal" and processing.subscription.delivered_at is None

    refunded = orders["5103"]  # the refund already made is recorded: nothing is left to refund
    assert refunded.status == "refunded" and refunded.refunded_amount == Decimal("14.99")
    assert refunded.refundable_remainder == 0 and refunded.payment_method == "crypto"

    partial = orders["5104"]  # matched by the name rule; a refund of 10.00 leaves 44.99
    assert partial.plan == plans["6m"] and partial.payment_method == "bank_transfer"
    assert partial.status == "partially_refunded" and partial.refundable_remainder == Decimal("44.99")


def test_it_writes_nothing_without_commit(plans):
    status, lines = run(WOO)
    assert status == 0 and lines[-1] == "4 new, 0 updated, 1 unchanged, 0 errors"
    assert any("Dry run" in line for line in lines)
    assert Order.objects.count() == Customer.objects.count() == 0


def test_it_changes_nothing_when_the_same_file_is_imported_again(plans):
    run(WOO, "--commit")
    before = list(Order.objects.order_by("pk").values())
    status, lines = run(WOO, "--commit")
    assert status == 0 and lines[-1] == "0 new, 0 updated, 5 unchanged, 0 errors"
    assert list(Order.objects.order_by("pk").values()) == before


def test_it_updates_a_changed_order_and_says_what_changed(plans, tmp_path):
    run(WOO, "--commit")
    data = woo_orders()
    data[0]["total"] = "39.99"
    data[0]["date_completed_gmt"] = "2026-03-01T11:00:00"
    path = write(tmp_path, data)
    status, lines = run(path, "-v", "2")
    assert lines[-1] == "0 new, 1 updated, 4 unchanged, 0 errors"
    assert "record 0: order 5101 updated (amount, delivered_at)" in lines
    assert Order.objects.get(number="5101").amount == Decimal("34.99")  # a dry run
    run(path, "--commit")
    order = Order.objects.get(number="5101")
    assert order.amount == Decimal("39.99")
    assert order.subscription.delivered_at == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)


def test_it_imports_the_documented_csv(plans, s0):
    status, lines = run(CSV, "--format", "csv", "--commit")
    assert status == 0, lines
    assert lines[-1] == "3 new, 0 updated, 1 unchanged, 0 errors"
    by_id = Order.objects.get(number="C-1")
    assert by_id.plan == plans["3m"] and by_id.customer.phone == "+44 20 7946 0000"
    by_name = Order.objects.get(number="C-2")
    assert by_name.plan == plans["12m3d"] and by_name.purchased_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    by_terms = Order.objects.get(number="C-3")
    assert by_terms.plan == plans["6m"] and by_terms.status == "refunded" and by_terms.currency == "EUR"
    assert not Order.objects.filter(number="C-4").exists()  # cancelled: never paid
    assert run(CSV, "--format", "csv", "--commit")[1][-1] == "0 new, 0 updated, 4 unchanged, 0 errors"


def _break(data, index, **changes):
    item = data[index]
    for key, value in changes.items():
        if "." in key:
            outer, inner = key.split(".")
            if outer == "line_items":
                item["line_items"][0][inner] = value
            else:
                item[outer][inner] = value
        else:
            item[key] = value
    return data


@pytest.mark.parametrize("index, changes, field", [
    (1, {"line_items.product_id": 999, "line_items.variation_id": 0, "line_items.name": "Gift card"}, "line_items[0]"),
    (2, {"total": "14,99"}, "total"),
    (3, {"date_paid_gmt": "2026-02-30T10:00:00"}, "date_paid_gmt"),
    (3, {"number": "5101"}, "number"),
    (0, {"billing.email": ""}, "billing.email"),
])
def test_it_reports_a_bad_woocommerce_record_by_index_and_field_and_writes_nothing(
    plans, tmp_path, index, changes, field
):
    path = write(tmp_path, _break(woo_orders(), index, **changes))
    status, lines = run(path, "--commit")
    assert status == 1
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: record {index}, {field}: ")
    assert lines[-1].endswith(", 1 errors")
    assert Order.objects.count() == Customer.objects.count() == Subscription.objects.count() == 0


@pytest.mark.parametrize("line, old, new, field", [
    (2, ",93,,,,34.99,", ",777,Gift card,,,34.99,", "product_id"),
    (3, "129.99", "-129.99", "amount"),
    (4, "2026-03-03 08:00:00", "03/03/2026", "purchased_at"),
    (5, "C-4,", "C-1,", "number"),
    (2, "fay@example.com", "", "email"),
])
def test_it_reports_a_bad_csv_line_by_number_and_field_and_writes_nothing(plans, tmp_path, line, old, new, field):
    lines = CSV.read_bytes().decode("utf-8").split("\r\n")
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path = write(tmp_path, "\r\n".join(lines), "orders.csv")
    status, output = run(path, "--format", "csv", "--commit")
    assert status == 1
    errors = [o for o in output if o.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: line {line}, {field}: "), errors
    assert Order.objects.count() == Customer.objects.count() == 0


def test_it_keeps_the_terms_of_an_order_a_case_rests_on(plans, s0, tmp_path):
    run(WOO, "--commit")
    order = Order.objects.get(number="5101")
    open_case(s0, order=order, requested_at=order.purchased_at.replace(hour=12))
    data = woo_orders()
    data[0]["total"] = "99.99"
    status, lines = run(write(tmp_path, data), "--commit")
    assert status == 1 and any(line.startswith("error: record 0, amount: ") for line in lines)
    assert Order.objects.get(number="5101").amount == Decimal("34.99")


@pytest.mark.parametrize("args, argument", [
    (["--format", "xml"], "--format"),
    (["--storefront", "nope"], "--storefront"),
])
def test_it_exits_2_naming_a_bad_argument(db, args, argument):
    with pytest.raises(CommandError) as caught:
        call_command("import_orders", str(WOO), *(["--storefront", "iptv-smarters-pro"] if argument != "--storefront" else []),
                     *args, stdout=StringIO())
    assert caught.value.returncode == 2 and str(caught.value).startswith(argument)


def test_it_reports_a_file_that_is_not_json(db, tmp_path):
    status, lines = run(write(tmp_path, "[{"), "--commit")
    assert status == 1 and lines[-1] == "0 new, 0 updated, 0 unchanged, 1 errors"


def test_it_finds_nothing_changed_when_one_customer_is_named_differently_on_two_orders(plans, tmp_path):
    data = woo_orders()[:2]
    data[1]["billing"] = {**data[0]["billing"], "first_name": "Annie"}
    path = write(tmp_path, data)
    assert run(path, "--commit")[1][-1] == "2 new, 0 updated, 0 unchanged, 0 errors"
    assert run(path, "--commit")[1][-1] == "0 new, 0 updated, 2 unchanged, 0 errors"


def test_it_keeps_the_cases_copy_of_the_currency_equal_to_the_orders(plans, s0, tmp_path):
    """An import may not change the currency of an order a case rests on, so the case's copy stays equal."""
    run(WOO, "--commit")
    order = Order.objects.get(number="5101")
    case = open_case(s0, order=order, requested_at=order.purchased_at.replace(hour=12))
    data = woo_orders()
    data[0]["currency"] = "EUR"
    run(write(tmp_path, data), "--commit")
    order.refresh_from_db()
    case.refresh_from_db()
    assert (case.storefront_id, case.currency) == (order.storefront_id, order.currency)


def test_it_reports_an_order_in_another_currency_than_its_storefronts(plans, s0):
    # 5102 is in EUR; the storefront sells in USD: the order is written, and the run says so.
    status, lines = run(WOO)
    assert status == 0
    assert [line for line in lines if line.startswith("warning:")] == [
        "warning: record 1, currency: the order is in EUR, the storefront's currency is USD: check that this "
        "order belongs to IPTV Smarters Pro"]
    assert lines[-1] == "4 new, 0 updated, 1 unchanged, 0 errors"
