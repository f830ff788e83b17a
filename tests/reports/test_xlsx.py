"""The XLSX report: a workbook openpyxl reads back, with the CSV's values as numbers and text."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from orders.models import Order
from reports import xlsx
from reports.columns import BOOL, COUNT, DAYS, MONEY, TIME, columns
from reports.resources import CaseReportResource
from tests.reports.conftest import CONTRACT_HEADER, parse_csv

KINDS = {column.name: column.kind for column in columns()}


def xlsx_rows(tmp_path) -> tuple[list[tuple], object]:
    path = tmp_path / "cases.xlsx"
    call_command("export_cases", "--format", "xlsx", "--output", str(path), stdout=StringIO())
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["cases"]
    sheet = workbook["cases"]
    return list(sheet.iter_rows(values_only=True)), sheet


def csv_rows() -> list[dict]:
    out = StringIO()
    call_command("export_cases", stdout=out)
    return parse_csv(out.getvalue())


def as_csv_text(kind: str, value) -> str:
    """A cell as the CSV writes the same value."""
    if value is None:
        return ""
    if kind == MONEY:
        return f"{Decimal(str(value)):.2f}"
    return str(value)


def test_it_gives_the_csv_values_as_numbers_and_text_with_times_in_iso_8601(cases_by_state, tmp_path):
    rows, sheet = xlsx_rows(tmp_path)
    assert list(rows[0]) == CONTRACT_HEADER
    expected = csv_rows()
    assert len(rows) == 1 + len(expected) == 1 + len(cases_by_state)
    for values, wanted in zip(rows[1:], expected):
        got = dict(zip(CONTRACT_HEADER, values))
        assert {name: as_csv_text(KINDS[name], value) for name, value in got.items()} == wanted
        for name, value in got.items():
            if value is None:
                continue
            kind = KINDS[name]
            if kind == TIME:
                assert isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value)
            elif kind == MONEY:
                assert isinstance(value, int | float)
            elif kind in (COUNT, DAYS):
                assert isinstance(value, int | float) and not isinstance(value, bool)
            elif kind == BOOL:
                assert value in ("true", "false")
            else:
                assert isinstance(value, str)
    paid = next(r for r in rows[1:] if r[CONTRACT_HEADER.index("state")] == "paid")
    amount = sheet.cell(row=rows.index(paid) + 1, column=CONTRACT_HEADER.index("paid_amount") + 1)
    assert amount.value == 59.99 and amount.number_format == "0.00"
    requested = sheet.cell(row=rows.index(paid) + 1, column=CONTRACT_HEADER.index("requested_at") + 1)
    assert not requested.is_date and requested.data_type == "s"


def test_it_keeps_markup_spaces_and_line_ends_of_text_and_drops_what_xml_cannot_carry(s0, tmp_path):
    from tests.cases import open_case

    case = open_case(s0)
    Order.objects.filter(pk=case.order_id).update(number=" <A&B> \"q\" 'x'\r\n\x01end ")
    rows, _ = xlsx_rows(tmp_path)
    assert rows[1][CONTRACT_HEADER.index("order_number")] == " <A&B> \"q\" 'x'\r\nend "


def test_it_writes_to_a_stream_that_cannot_seek(cases_by_state):
    class Pipe(io.RawIOBase):
        def __init__(self):
            self.data = bytearray()

        def writable(self):
            return True

        def write(self, chunk):
            self.data += chunk
            return len(chunk)

    pipe = Pipe()
    resource = CaseReportResource()
    from cases.models import RefundCase

    done = xlsx.write_xlsx(resource.export_rows(RefundCase.objects.all()), resource.columns, pipe)
    sheet = load_workbook(io.BytesIO(bytes(pipe.data))).active
    assert done == len(cases_by_state) and sheet.max_row == 1 + done


def test_it_refuses_more_rows_than_a_sheet_holds(cases_by_state, monkeypatch):
    monkeypatch.setattr(xlsx, "MAX_ROWS", 4)  # a sheet's rows with the header, made small
    resource = CaseReportResource()
    from cases.models import RefundCase

    with pytest.raises(xlsx.TooManyRows, match="more than 3 cases do not fit in one sheet"):
        xlsx.write_xlsx(resource.export_rows(RefundCase.objects.all()), resource.columns, io.BytesIO())


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_it_neutralises_every_formula_prefix_in_every_text_column(s0, manager, prefix, tmp_path):
    from orders.models import Customer
    from tests.cases import open_case

    case = open_case(s0)
    payload = f"{prefix}1+2"
    Order.objects.filter(pk=case.order_id).update(number=payload)
    Customer.objects.filter(orders=case.order_id).update(email=f"{prefix}cmd@example.com")
    manager.username = f"{prefix}SUM(A1)"
    manager.save(update_fields=["username"])
    case.assignee = manager
    case.save(update_fields=["assignee"])
    rows, _ = xlsx_rows(tmp_path)
    got = dict(zip(CONTRACT_HEADER, rows[1]))
    for name in ("order_number", "customer_email", "assignee"):
        assert got[name].startswith("'") and got[name][1:2] in (prefix, "\n" if prefix == "\r" else prefix), name
    assert not any(isinstance(v, str) and v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in rows[1])
