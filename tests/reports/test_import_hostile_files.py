"""Files the parsers choke on: each is an error naming the record and field, in the command and the
admin's preview alike, and nothing is written."""

from __future__ import annotations

import json

import pytest

from orders.imports.admin import page_position
from orders.models import Customer, Order
from tests.reports.test_import_admin import upload
from tests.reports.test_import_orders import CSV, run, woo_orders, write

DEEP = 50_000


def woo(**changes) -> bytes:
    """The WooCommerce fixture, its second order (record 1) given ``changes`` as raw JSON text."""
    data = woo_orders()
    marks = {}
    for key, raw in changes.items():
        outer, _, inner = key.partition(".")
        mark = f"@@{key}@@"
        marks[json.dumps(mark)] = raw
        if inner:
            data[1][outer][inner] = mark
        else:
            data[1][outer] = mark
    text = json.dumps(data)
    for mark, raw in marks.items():
        text = text.replace(mark, raw)
    return text.encode()


def csv_with(line: int, column: str, value: str) -> bytes:
    lines = CSV.read_bytes().decode().split("\r\n")
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    if line == 3:  # "12 months, 3 devices" is quoted and holds a comma: keep line 3 as a whole
        raise AssertionError("use another line")
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    return "\r\n".join(lines).encode()


# (file, format, position, field, the message's start)
HOSTILE = {
    "deep JSON inside an order": (
        woo(meta_data="[" * DEEP + "]" * DEEP), "woocommerce", "record 1", "meta_data",
        "nested too deeply: more than 100 levels of arrays and objects (line 1, column "),
    "deep JSON as an order": (
        ("[" * DEEP + "]" * DEEP).encode(), "woocommerce", "record 0", "(record)", "nested too deeply"),
    "deep JSON object as the file": (
        ('{"a":' * DEEP + "1" + "}" * DEEP).encode(), "woocommerce", "line 1", "(file)", "nested too deeply"),
    "an integer of 5,000 digits": (
        woo(total="1" * 5000), "woocommerce", "record 1", "total", "a number of more than 4,300 digits"),
    "\\u0000 in a JSON string": (
        woo(**{"billing.first_name": '"Bo\\u0000b"'}), "woocommerce", "record 1", "billing.first_name",
        "contains a NUL character"),
    "a lone surrogate in a JSON string": (
        woo(transaction_id='"ch_\\ud800"'), "woocommerce", "record 1", "transaction_id", "contains a broken character"),
    "refunds that are not a list": (
        woo(refunds="5"), "woocommerce", "record 1", "refunds", "not a list of refunds"),
    "a time that leaves the calendar in UTC": (
        woo(date_paid_gmt='"0001-01-01T00:00:00+05:00"'), "woocommerce", "record 1", "date_paid_gmt",
        '"0001-01-01T00:00:00+05:00" is not an ISO 8601 date and time'),
    "a name longer than a customer's": (
        woo(**{"billing.last_name": json.dumps("x" * 300)}), "woocommerce", "record 1", "billing.last_name",
        "the customer's name is longer than 200 characters"),
    "an e-mail longer than the column": (
        woo(**{"billing.email": json.dumps("a" * 64 + "@" + ("b" * 60 + ".") * 4 + "com")}), "woocommerce",
        "record 1", "billing.email", "\"aaaa"),
    "a NUL byte in CSV": (
        csv_with(2, "first_name", "F\x00y"), "csv", "line 2", "first_name", "contains a NUL character"),
    "a CSV field longer than csv takes": (
        csv_with(4, "product_name", "x" * 131_073), "csv", "line 4", "product_name",
        "the field is longer than 131,072 characters"),
    "a CSV header field longer than csv takes": (
        b"number," + b"y" * 131_073 + b"\r\n", "csv", "line 1", "(header)", "the field is longer than"),
    "a CSV count in superscript digits": (
        csv_with(2, "plan_months", "\u00b2"), "csv", "line 2", "plan_months", '"\u00b2" is not a whole number'),
    "a CSV count of 5,000 digits": (
        csv_with(2, "plan_months", "9" * 5000), "csv", "line 2", "plan_months", '"9999'),
}


def _case(name):
    content, fmt, position, field, message = HOSTILE[name]
    return content, fmt, position, field, message


@pytest.mark.parametrize("name", list(HOSTILE))
def test_it_reports_a_hostile_file_by_record_and_field_in_the_command(plans, tmp_path, name):
    content, fmt, position, field, message = _case(name)
    path = tmp_path / "orders"
    path.write_bytes(content)
    status, lines = run(path, "--format", fmt, "--commit")
    assert status == 1
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {position}, {field}: {message}"), errors
    assert lines[-1].endswith(", 1 errors")
    assert Order.objects.count() == Customer.objects.count() == 0


@pytest.mark.parametrize("name", list(HOSTILE))
def test_it_reports_a_hostile_file_by_record_and_field_in_the_admin_preview(plans, s0, manager_client, name):
    content, fmt, position, field, message = _case(name)
    page = upload(manager_client, s0, content, fmt_index=0 if fmt == "woocommerce" else 1)
    assert page.status_code == 200
    result = page.context["result"]
    errors = {row.number: row.field_specific_errors for row in result.invalid_rows}
    position = page_position(position)  # records counted from 1 on the page
    assert list(errors) == [position] and list(errors[position]) == [field], errors
    assert str(errors[position][field][0]).startswith(message)
    assert "confirm_form" not in page.context
    assert Order.objects.count() == Customer.objects.count() == 0


def test_it_reads_csv_whose_lines_end_in_a_carriage_return_alone(plans, tmp_path, s0, manager_client):
    content = CSV.read_bytes().replace(b"\r\n", b"\r")
    status, lines = run(write(tmp_path, content.decode(), "orders.csv"), "--format", "csv")
    assert status == 0 and lines[-1] == "3 new, 0 updated, 1 unchanged, 0 errors"
    page = upload(manager_client, s0, content, fmt_index=1)
    assert page.context["result"].summary == "3 new, 0 updated, 0 unchanged, 1 skipped, 0 errors"


def test_it_stops_reading_csv_at_the_record_it_cannot_read_and_writes_nothing(plans, tmp_path):
    content = csv_with(4, "product_name", "x" * 131_073) + b"\r\nC-9,bad\r\n"
    path = tmp_path / "orders.csv"
    path.write_bytes(content)
    status, lines = run(path, "--format", "csv", "--commit")
    assert status == 1 and lines[-1] == "2 new, 0 updated, 0 unchanged, 1 errors"  # lines 2 and 3 were read
    assert Order.objects.count() == 0


def test_it_names_a_file_that_is_not_utf8_by_its_line(db, tmp_path):
    from django.core.management import CommandError, call_command

    path = tmp_path / "orders.json"
    path.write_bytes(b'[\n{"number": "1",\n"x": "\xff"}]')
    with pytest.raises(CommandError) as caught:
        call_command("import_orders", str(path), "--storefront", "iptv-smarters-pro")
    assert caught.value.returncode == 2
    assert str(caught.value) == f"FILE: {path} is not UTF-8 text (line 3 holds bytes that are not)"
