"""The CSV the database makes (reports.csv_sql) is byte for byte the reference's (writers.stream_csv).

Every text the report reads is generated with what breaks a CSV or a spreadsheet: commas, quotes,
CR and LF, every character Python counts as whitespace, formula signs after them, clause lists in
every JSON shape (one odd one at a time, or the whole report fails). NUL is left out: PostgreSQL refuses it in text, and SQLite's string functions stop
at it. Where the reference fails (a clause list that is not a list of strings), so must the
database's path, with the same error.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from decimal import Decimal
from io import BytesIO

from django.contrib.auth.models import User
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.models import Payout, RefundCase
from cases.states import State
from orders.models import Customer, Order, Plan, Storefront
from reports import services, writers
from reports.columns import columns, report_rows
from reports.csv_sql import WHITESPACE, csv_chunks
from tests.reports.conftest import parse_csv

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TRICKY = [",", '"', "\r", "\n", "\r\n", "'", ";", "[", "]", "\\", "{", "}", ":", '", "', '","', "=", "+", "-", "@",
          "a", "Z", "0", "é", "€", "😀", "\x01", "\x1f", "\x7f", "\u200b", "\ufeff", "\u180e", *WHITESPACE]
PIECES = st.one_of(st.sampled_from(TRICKY), st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))


def text(max_size: int) -> st.SearchStrategy[str]:
    return st.lists(PIECES, max_size=max_size).map(lambda pieces: "".join(pieces)[:max_size])


def formula_like(max_size: int) -> st.SearchStrategy[str]:
    """Leading whitespace, a formula sign or not, then anything."""
    return st.builds(lambda lead, sign, rest: (lead + sign + rest)[:max_size], st.text(st.sampled_from(WHITESPACE),
                     max_size=3), st.sampled_from(["", "=", "+", "-", "@", "\t", "\r", "a", "'"]), text(max_size))


def cell_text(max_size: int) -> st.SearchStrategy[str]:
    return st.one_of(text(max_size), formula_like(max_size))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | cell_text(12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(cell_text(6), inner, max_size=3),
    max_leaves=6,
)
MISSING = object()
CLAUSES = st.one_of(
    st.lists(cell_text(12), max_size=4),  # what the engine writes, with any text in it
    st.lists(st.sampled_from(["S0-WINDOW", "H-DUPLICATE", "S0-FIX-48H", "=1+1", " -1", ""]), max_size=3),
    st.lists(cell_text(12), max_size=3).map(json.dumps),  # a string that reads as a list
    st.just(MISSING),
)
# What the reference often fails on: JSON of any shape, and list-looking text without JSON's escapes
# (control characters, quotes, backslashes as they are).
ODD_CLAUSES = st.one_of(
    JSON_VALUES,
    st.builds(lambda pieces, separator: '["' + separator.join(pieces) + '"]', st.lists(cell_text(6), max_size=3),
              st.sampled_from(['", "', '","'])),
)
DECISION_TEXT = st.one_of(cell_text(12), st.none(), st.just(MISSING))
MOMENT = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
WHEN = st.one_of(st.none(), MOMENT)
ROW = st.fixed_dictionaries({
    "number": cell_text(14), "order_number": cell_text(20), "email": cell_text(20), "currency": cell_text(3),
    "reason": st.one_of(st.sampled_from(["other", "technical_issue"]), cell_text(12)),
    "channel": cell_text(16), "state": st.one_of(st.sampled_from(State.values), cell_text(12)),
    "outcome": DECISION_TEXT, "policy_version": DECISION_TEXT, "clauses": CLAUSES,
    "amount": st.decimals(min_value=0, max_value=Decimal("9999999999.99"), places=2),
    "approved_amount": st.one_of(st.none(), st.decimals(min_value=Decimal("0.01"), max_value=10**6, places=2)),
    "months": st.sampled_from([1, 3, 6, 12]), "devices": st.integers(1, 32767),
    "requested_at": MOMENT, "first_response_at": WHEN, "approved_at": WHEN,
    "decided_at": WHEN, "fix_deadline": WHEN, "fix_window_missed": st.booleans(),
    "fix_outcome": st.sampled_from(["", "pending", "resolved", "failed"]), "statutory_override": st.booleans(),
    "assignee": st.sampled_from([None, "agent", "manager"]),
})
REPORT = st.fixed_dictionaries({
    "rows": st.lists(ROW, min_size=8, max_size=8), "slug": cell_text(20), "usernames": st.lists(cell_text(20),
    min_size=2, max_size=2), "payout_method": cell_text(20), "paid_at": MOMENT,
})


def reference(queryset) -> bytes | type[Exception]:
    try:
        rows = report_rows(queryset, now=NOW).iterator()
        return "".join(writers.stream_csv(rows, columns(NOW))).encode("utf-8")
    except Exception as error:  # noqa: BLE001 - the fast path must fail the same way
        return type(error)


def made_by_the_database(queryset, rows_per_chunk: int, spool: bool = True) -> bytes | type[Exception]:
    try:
        with transaction.atomic():  # a failure inside COPY aborts the transaction; keep the test's
            return b"".join(csv_chunks(queryset, now=NOW, rows_per_chunk=rows_per_chunk, spool=spool))
    except Exception as error:  # noqa: BLE001
        return type(error)


def store(report: dict, cases: list[RefundCase], agent: User, manager: User) -> None:
    """Write a generated report into the cases' rows, their orders, customers, plans and users."""
    users = {"agent": agent, "manager": manager}
    for user, name in zip((agent, manager), report["usernames"]):
        User.objects.filter(pk=user.pk).update(username=f"{name}{user.pk}")
    storefront = cases[0].storefront_id
    Storefront.objects.filter(pk=storefront).update(slug=report["slug"] + "\u2603")  # never a shipped slug
    Payout.objects.update(method=report["payout_method"], paid_at=report["paid_at"])
    for i, (case, row) in enumerate(zip(cases, report["rows"])):
        decision = {key: row[key] for key in ("outcome", "clauses", "policy_version") if row[key] is not MISSING}
        state_needs_amount = row["state"] in (State.APPROVED, State.PAID)
        RefundCase.objects.filter(pk=case.pk).update(
            number=f"{row['number']}{i}", currency=row["currency"], reason=row["reason"], channel=row["channel"],
            state=row["state"], decision=decision, requested_at=row["requested_at"],
            first_response_at=row["first_response_at"], approved_at=row["approved_at"], decided_at=row["decided_at"],
            approved_amount=row["approved_amount"] or (Decimal("1.00") if state_needs_amount else None),
            fix_deadline=row["fix_deadline"], fix_window_missed=row["fix_window_missed"],
            fix_outcome=row["fix_outcome"], statutory_override=row["statutory_override"],
            statutory_basis="a written legal basis" if row["statutory_override"] else "",
            assignee=users[row["assignee"]] if row["assignee"] else None,
        )
        order = Order.objects.get(pk=case.order_id)
        Order.objects.filter(pk=order.pk).update(number=f"{row['order_number']}{i}", amount=row["amount"],
                                                 refunded_amount=0, charged_back_amount=0)
        Customer.objects.filter(pk=order.customer_id).update(email=f"{row['email']}{i}")
        Plan.objects.filter(pk=order.plan_id).update(months=row["months"], devices=row["devices"])


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(report=REPORT, rows_per_chunk=st.sampled_from([1, 3, 2000]), spool=st.booleans())
def test_it_writes_the_reference_bytes_for_any_text_in_the_cells(cases_by_state, agent, manager, report,
                                                                 rows_per_chunk, spool):
    cases = sorted(cases_by_state.values(), key=lambda case: case.pk)
    store(report, cases, agent, manager)
    queryset = RefundCase.objects.all()
    expected = reference(queryset)
    assert isinstance(expected, bytes)
    assert made_by_the_database(queryset, rows_per_chunk, spool) == expected


@SETTINGS
@given(report=REPORT, odd=ODD_CLAUSES, where=st.integers(0, 7), rows_per_chunk=st.sampled_from([1, 3, 2000]),
       spool=st.booleans())
def test_it_writes_the_reference_bytes_or_fails_as_it_does_on_odd_clause_lists(cases_by_state, agent, manager, report,
                                                                                odd, where, rows_per_chunk, spool):
    cases = sorted(cases_by_state.values(), key=lambda case: case.pk)
    store(report, cases, agent, manager)
    odd_case = RefundCase.objects.get(pk=cases[where].pk)
    RefundCase.objects.filter(pk=odd_case.pk).update(decision={**odd_case.decision, "clauses": odd})
    queryset = RefundCase.objects.all()
    assert made_by_the_database(queryset, rows_per_chunk, spool) == reference(queryset)


def test_it_writes_the_reference_bytes_for_the_cases_as_staff_leave_them(cases_by_state):
    queryset = RefundCase.objects.all()
    made = b"".join(csv_chunks(queryset, now=NOW))
    assert made == reference(queryset)
    assert len(parse_csv(made.decode("utf-8"))) == len(cases_by_state)


def test_it_treats_as_whitespace_exactly_what_the_reference_pattern_does():
    every = (chr(code) for code in range(sys.maxunicode + 1))
    assert WHITESPACE == "".join(c for c in every if re.match(r"\s", c))
    # csv_sql mirrors this expression; a change to it must be made there too.
    assert writers._FORMULA.pattern == r"\s*[=+\-@\t\r]"


def test_it_writes_only_the_header_when_no_case_matches(db):
    made = b"".join(csv_chunks(RefundCase.objects.none(), now=NOW))
    assert made == reference(RefundCase.objects.none())
    assert made.count(b"\r\n") == 1


def test_it_lets_the_progress_callback_use_the_database_between_chunks(cases_by_state):
    """An export job records its progress in its row while the report is read (PostgreSQL's COPY
    holds the connection until it ends: the rows are spooled first)."""
    seen = []
    out = BytesIO()
    services.write_file(RefundCase.objects.all(), fmt="csv", out=out, now=NOW,
                        progress=lambda done: seen.append((done, RefundCase.objects.count())))
    assert out.getvalue() == reference(RefundCase.objects.all())
    assert seen[-1] == (len(cases_by_state), len(cases_by_state))
