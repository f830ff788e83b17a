"""export_cases: the contract's columns and values, filters, formats and arguments."""

from __future__ import annotations

import json
from io import BytesIO, StringIO

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from cases.states import State
from orders.models import Order
from reports.columns import HEADERS
from reports.models import ExportRecord
from tests.cases import WITHIN_WINDOW
from tests.conftest import at
from tests.reports.conftest import CONTRACT_HEADER, parse_csv


def export(*args) -> str:
    out = StringIO()
    call_command("export_cases", *args, stdout=out)
    return out.getvalue()


def by_number(rows: list[dict]) -> dict[str, dict]:
    return {row["case_number"]: row for row in rows}


def test_it_declares_the_contract_columns_in_order():
    assert HEADERS == CONTRACT_HEADER


def test_it_writes_one_row_per_case_in_every_state_with_the_header_first(cases_by_state):
    text = export()
    assert text.startswith(",".join(CONTRACT_HEADER) + "\r\n")
    rows = by_number(parse_csv(text))
    assert {rows[case.number]["state"] for case in cases_by_state.values()} == set(State.values)
    assert len(rows) == len(cases_by_state)
    for case in cases_by_state.values():
        row = rows[case.number]
        assert row["storefront"] == "iptv-smarters-pro"
        assert row["order_number"] == case.order.number
        assert row["amount_paid"] == "59.99"
        assert row["currency"] == "USD"
        assert row["requested_at"] == "2026-01-02T09:00:00Z"
        assert row["statutory_override"] == "false"
        assert row["outcome"] == case.decision["outcome"]
        assert row["clauses"] == ";".join(case.decision["clauses"])
        assert row["policy_version"] == str(case.decision["policy_version"])


def test_it_writes_a_paid_case_with_its_approval_and_payout(cases_by_state):
    case = cases_by_state[State.PAID]
    row = by_number(parse_csv(export()))[case.number]
    assert row["plan_months"] == "3" and row["devices"] == "1"
    assert row["reason"] == "other" and row["channel"] == "admin"
    assert row["first_response_at"] == "2026-01-02T10:00:00Z"  # the approval, an hour after the request
    assert row["decided_at"] == "2026-01-02T10:00:00Z"
    assert row["approved_amount"] == "59.99"
    assert row["paid_amount"] == "59.99"
    assert row["paid_at"] == "2026-01-02T11:00:00Z"
    assert row["payout_method"] == "card"
    assert row["days_to_decision"] == "0.0"
    assert row["deadline_met"] == ""  # no fix window on this case


def test_it_leaves_unknown_values_empty_while_a_case_is_undecided(cases_by_state):
    rows = by_number(parse_csv(export()))
    for state in (State.REQUESTED, State.EVIDENCE_REQUESTED, State.AWAITING_FIX, State.WITHDRAWN):
        row = rows[cases_by_state[state].number]
        assert row["decided_at"] == "" and row["days_to_decision"] == ""
        assert row["approved_amount"] == row["paid_amount"] == row["paid_at"] == row["payout_method"] == ""
    assert rows[cases_by_state[State.REQUESTED].number]["first_response_at"] == ""
    assert rows[cases_by_state[State.EVIDENCE_REQUESTED].number]["first_response_at"] == "2026-01-02T10:00:00Z"


def test_it_says_whether_the_fix_deadline_was_met(cases_by_state):
    rows = by_number(parse_csv(export()))
    assert rows[cases_by_state[State.RESOLVED].number]["deadline_met"] == "true"
    # Still pending long after its 48 h window: missed.
    assert rows[cases_by_state[State.AWAITING_FIX].number]["deadline_met"] == "false"
    resolved = rows[cases_by_state[State.RESOLVED].number]
    assert resolved["decided_at"] == "2026-01-02T11:00:00Z" and resolved["days_to_decision"] == "0.1"


def test_it_filters_by_storefront_state_and_request_dates(cases_by_state, s1):
    from tests.cases import open_case

    other = open_case(s1, requested_at=at("2026-01-05 23:59"), purchased_at=at("2026-01-05 10:00"))
    assert [r["case_number"] for r in parse_csv(export("--storefront", "smarters-pro"))] == [other.number]
    paid = parse_csv(export("--state", "paid", "denied"))
    assert {r["state"] for r in paid} == {"paid", "denied"} and len(paid) == 2
    assert [r["case_number"] for r in parse_csv(export("--from", "2026-01-05", "--to", "2026-01-05"))] == [other.number]
    assert len(parse_csv(export("--to", "2026-01-02"))) == len(cases_by_state)
    assert parse_csv(export("--from", "2026-01-06")) == []


@pytest.mark.parametrize("args, argument", [
    (["--format", "xml"], "--format"),
    (["--state", "lost"], "--state"),
    (["--storefront", "nope"], "--storefront"),
    (["--from", "2026-02-30"], "--from"),
    (["--to", "yesterday"], "--to"),
    (["--from", "2026-02-02", "--to", "2026-02-01"], "--to"),
])
def test_it_exits_2_naming_the_bad_argument(db, args, argument):
    with pytest.raises(CommandError) as caught:
        export(*args)
    assert caught.value.returncode == 2
    assert str(caught.value).startswith(argument)


def test_it_writes_json_objects_with_the_same_keys_and_typed_values(cases_by_state):
    data = json.loads(export("--format", "json"))
    assert len(data) == len(cases_by_state)
    assert all(list(item) == CONTRACT_HEADER for item in data)
    paid = next(item for item in data if item["state"] == "paid")
    assert paid["plan_months"] == 3 and paid["statutory_override"] is False
    assert paid["paid_amount"] == "59.99" and paid["days_to_decision"] == 0.0
    requested = next(item for item in data if item["state"] == "requested")
    assert requested["decided_at"] is None and requested["deadline_met"] is None


def test_it_writes_xlsx_with_numbers_for_amounts(cases_by_state, tmp_path):
    path = tmp_path / "cases.xlsx"
    call_command("export_cases", "--format", "xlsx", "--output", str(path), stdout=StringIO())
    sheet = load_workbook(BytesIO(path.read_bytes())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == CONTRACT_HEADER
    assert len(rows) == 1 + len(cases_by_state)
    paid = next(r for r in rows[1:] if r[CONTRACT_HEADER.index("state")] == "paid")
    assert float(paid[CONTRACT_HEADER.index("paid_amount")]) == 59.99


def test_it_records_each_export_with_its_filter_and_row_count(cases_by_state):
    export("--state", "paid")
    record = ExportRecord.objects.get()
    assert record.via == "command" and record.format == "csv" and record.row_count == 1
    assert record.filters == {"state": ["paid"]}
    with pytest.raises(TypeError):
        ExportRecord.objects.update(row_count=0)
    with pytest.raises(TypeError):
        record.save()


@pytest.mark.parametrize("lead", ["", "  ", "\n", " \n "], ids=["none", "spaces", "line-feed", "both"])
@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_it_neutralises_every_formula_prefix_in_csv_and_xlsx(s0, agent, manager, lead, prefix, tmp_path):
    """Spreadsheets skip leading spaces and line feeds before deciding a cell is a formula."""
    from tests.cases import open_case

    case = open_case(s0, requested_at=WITHIN_WINDOW)
    payload = f"{lead}{prefix}HYPERLINK(\"http://evil.example\")"
    Order.objects.filter(pk=case.order_id).update(number=payload)
    row = parse_csv(export())[0]
    assert row["order_number"] == "'" + payload
    assert row["amount_paid"] == "59.99"  # numbers are not text: never prefixed

    path = tmp_path / "cases.xlsx"
    call_command("export_cases", "--format", "xlsx", "--output", str(path), stdout=StringIO())
    sheet = load_workbook(path).active
    cell = sheet.cell(row=2, column=CONTRACT_HEADER.index("order_number") + 1).value
    # XML reads the prefix character back differently when it is a carriage return; the apostrophe and
    # everything around that character are what matter.
    after = len(lead) + 1
    assert cell[0] == "'" and cell[1:after] == lead and cell[after + 1:] == payload[after:]
    assert not any(str(c.value).startswith(("=", "+", "-", "@", "\t", "\r")) for c in sheet[2] if c.value is not None)

    data = json.loads(export("--format", "json"))
    assert data[0]["order_number"] == payload  # JSON carries the data as it is


def test_it_leaves_text_with_a_sign_inside_it_alone(s0, agent):
    from tests.cases import open_case

    case = open_case(s0, requested_at=WITHIN_WINDOW)
    Order.objects.filter(pk=case.order_id).update(number="A-100 +1")
    assert parse_csv(export())[0]["order_number"] == "A-100 +1"
